{#- Casts of raw text columns. The reader (restock.feed.reader) already rejected every value
    these casts could fail on, so plain cast is safe on accepted rows. -#}

{% macro as_of_date() -%}
    {%- set as_of = var('as_of', '') -%}
    {%- if execute and not as_of -%}
        {{ exceptions.raise_compiler_error("var 'as_of' is required: dbt build --vars '{as_of: YYYY-MM-DD}'") }}
    {%- endif -%}
    cast('{{ as_of if as_of else "1970-01-01" }}' as date)
{%- endmacro %}

{% macro horizon_days() -%}
    cast({{ var('horizon_days', 28) | int }} as integer)
{%- endmacro %}

{#- The plausible window's history side (restock.feed.reader.FeedBounds.history_days): the
    reader quarantined every date before as_of - history_days except promotion starts, which
    are clipped to it here. -#}
{% macro history_days() -%}
    cast({{ var('history_days', 3653) | int }} as integer)
{%- endmacro %}

{#- Business date: the local date as written (first 10 characters of an ISO date/timestamp);
    a time-zone offset is deliberately ignored. -#}
{% macro business_date(column) -%}
    cast(substr(trim({{ column }}), 1, 10) as date)
{%- endmacro %}

{% macro text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{% macro number(column) -%}
    cast(nullif(trim({{ column }}), '') as {{ type_double() }})
{%- endmacro %}

{% macro to_boolean(column, default) -%}
    case
        when lower(trim({{ column }})) in ('true', 't', '1', 'yes', 'y') then true
        when lower(trim({{ column }})) in ('false', 'f', '0', 'no', 'n') then false
        else {{ default }}
    end
{%- endmacro %}
