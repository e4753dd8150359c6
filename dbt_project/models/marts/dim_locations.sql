with

locations as (
    select * from {{ ref('int_locations_unioned') }}
),

final as (
    select
        location,
        name,
        region,
        type,
        timezone
    from locations
)

select * from final
