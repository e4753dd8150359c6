with

source as (
    select * from {{ source('raw', 'promotions') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ text('sku') }} as sku,
        {{ text('category') }} as category,
        -- empty location = every location
        {{ text('location') }} as location,
        {{ business_date('start_date') }} as start_date,
        {{ business_date('end_date') }} as end_date,
        {{ number('discount_pct') }} as discount_pct,
        {{ text('type') }} as type
    from source
),

final as (
    select * from renamed
)

select * from final
