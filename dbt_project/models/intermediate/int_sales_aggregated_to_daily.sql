with

sales as (
    select * from {{ ref('stg_feed__sales') }}
),

aggregated as (
    select
        sku,
        location,
        date,
        -- gross units sold and units returned are kept apart: returns are not negative demand
        sum(case when quantity > 0 then quantity else 0 end) as units_sold,
        -sum(case when quantity < 0 then quantity else 0 end) as units_returned,
        bool_or(promo) as promo,
        avg(unit_price) as unit_price,
        case
            when count(customer_id) > 0 then count(distinct customer_id)
        end as n_customers,
        count(*) as n_lines
    from sales
    where date <= {{ as_of_date() }}
    group by sku, location, date
),

final as (
    select
        sku,
        location,
        date,
        cast(units_sold as {{ type_double() }}) as units_sold,
        cast(units_returned as {{ type_double() }}) as units_returned,
        promo,
        cast(unit_price as {{ type_double() }}) as unit_price,
        cast(n_customers as bigint) as n_customers,
        n_lines
    from aggregated
)

select * from final
