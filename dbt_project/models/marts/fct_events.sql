with

events as (
    select * from {{ ref('stg_feed__events') }}
),

final as (
    select distinct
        date,
        location,
        name,
        type
    from events
)

select * from final
