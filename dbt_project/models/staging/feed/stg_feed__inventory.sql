with

source as (
    select * from {{ source('raw', 'inventory') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ business_date('date') }} as date,
        {{ text('sku') }} as sku,
        {{ text('location') }} as location,
        {{ number('on_hand') }} as on_hand,
        {{ number('stockout_hours') }} as stockout_hours,
        {{ number('on_order') }} as on_order
    from source
),

final as (
    select * from renamed
)

select * from final
