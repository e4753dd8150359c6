{#- SQL that differs between the adapters the project runs on (DuckDB: the nightly work DB;
    PostgreSQL: a shared warehouse). Each macro dispatches on the adapter; the duckdb__ branch
    renders exactly the SQL the project used before it became portable, so the DuckDB path is
    unchanged. Portable pieces use dbt's own cross-database macros instead (dbt.datediff, ...).
    Postgres is the default__ branch: it is plain ANSI-ish SQL that most adapters accept. -#}

{#- An 8-byte float. dbt.type_float() renders `float`, which DuckDB reads as a 4-byte REAL:
    not what the contract's DOUBLE columns need. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'restock')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}


{#- A select-list expression that turns one row into one row per day from start_date to
    end_date (both included, both DATE; no row when start_date > end_date), typed DATE. -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between', 'restock')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
    cast(generate_series(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp),
        interval '1 day'
    ) as date)
{%- endmacro %}

{% macro duckdb__days_between(start_date, end_date) -%}
    cast(unnest(generate_series({{ start_date }}, {{ end_date }}, interval 1 day)) as date)
{%- endmacro %}
