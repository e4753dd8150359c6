with

promotions as (
    select * from {{ ref('stg_feed__promotions') }}
),

products as (
    select * from {{ ref('stg_feed__products') }}
),

locations as (
    select * from {{ ref('int_locations_unioned') }}
),

promotion_skus as (
    -- a promotion names a sku, or a whole category
    select
        promotions.*,
        products.sku as promoted_sku
    from promotions
    inner join products
        on products.sku = promotions.sku
        or (promotions.sku is null and products.category = promotions.category)
),

promotion_locations as (
    -- an empty location means every location
    select
        promotion_skus.*,
        locations.location as promoted_location
    from promotion_skus
    inner join locations
        on promotion_skus.location is null or locations.location = promotion_skus.location
),

days as (
    select
        promoted_sku as sku,
        promoted_location as location,
        -- clipped to the plausible window: a promotion from 0001-01-01 to 9999-12-31 expands
        -- to history_days + horizon_days days, not 3.6 M
        {{ days_between(
            'greatest(start_date, ' ~ as_of_date() ~ ' - ' ~ history_days() ~ ')',
            'least(end_date, ' ~ as_of_date() ~ ' + ' ~ horizon_days() ~ ')') }}
            as date,
        discount_pct,
        type
    from promotion_locations
    where start_date <= {{ as_of_date() }} + {{ horizon_days() }}
),

final as (
    select * from days
)

select * from final
