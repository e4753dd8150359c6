with

drivers as (
    select * from {{ ref('stg_feed__drivers') }}
),

final as (
    select
        date,
        location,
        driver,
        value
    from drivers
)

select * from final
