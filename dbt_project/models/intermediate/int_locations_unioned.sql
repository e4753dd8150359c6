with

locations as (
    select * from {{ ref('stg_feed__locations') }}
),

sales as (
    select * from {{ ref('stg_feed__sales') }}
),

inventory as (
    select * from {{ ref('stg_feed__inventory') }}
),

seen as (
    select location from sales
    union
    select location from inventory
),

final as (
    select
        locations.location,
        locations.name,
        locations.region,
        locations.type,
        locations.timezone
    from locations
    union all
    select
        seen.location,
        cast(null as varchar) as name,
        cast(null as varchar) as region,
        cast(null as varchar) as type,
        cast(null as varchar) as timezone
    from seen
    where seen.location not in (select location from locations)
)

select * from final
