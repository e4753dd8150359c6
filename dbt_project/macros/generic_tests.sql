{#- Generic data tests written here because dbt packages cannot be fetched offline. -#}

{% test non_negative(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}

{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}

{% test unique_combination_of_columns(model, combination_of_columns) %}
    select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{#- Every (group) has one row per day between its first and last date: no holes. -#}
{% test complete_date_spine(model, column_name, group_by) %}
    select {{ group_by | join(', ') }}
    from {{ model }}
    group by {{ group_by | join(', ') }}
    having count(*) <> {{ dbt.datediff('min(' ~ column_name ~ ')', 'max(' ~ column_name ~ ')', 'day') }} + 1
{% endtest %}
