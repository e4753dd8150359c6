with

source as (
    select * from {{ source('raw', 'events') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ business_date('date') }} as date,
        {{ text('location') }} as location,
        {{ text('name') }} as name,
        {{ text('type') }} as type
    from source
),

final as (
    select * from renamed
)

select * from final
