with

source as (
    select * from {{ source('raw', 'drivers') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ business_date('date') }} as date,
        {{ text('location') }} as location,
        {{ text('driver') }} as driver,
        {{ number('value') }} as value
    from source
),

final as (
    select * from renamed
)

select * from final
