with

promotion_days as (
    select * from {{ ref('int_promotions_expanded_to_days') }}
),

final as (
    -- overlapping promotions on the same day count once, at the deepest discount
    select
        sku,
        location,
        date,
        max(discount_pct) as discount_pct
    from promotion_days
    group by sku, location, date
)

select * from final
