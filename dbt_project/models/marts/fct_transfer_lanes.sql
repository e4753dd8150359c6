with

lanes as (
    select * from {{ ref('stg_feed__transfer_lanes') }}
),

final as (
    select
        from_location,
        to_location,
        lead_time_days,
        cost_per_unit
    from lanes
    where from_location <> to_location
)

select * from final
