with

source as (
    select * from {{ source('raw', 'sales') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ business_date('date') }} as date,
        {{ text('sku') }} as sku,
        {{ text('location') }} as location,
        -- negative quantities are returns and are kept
        {{ number('quantity') }} as quantity,
        coalesce({{ text('channel') }}, 'all') as channel,
        {{ number('unit_price') }} as unit_price,
        {{ to_boolean('promo', 'false') }} as promo,
        {{ text('order_id') }} as order_id,
        {{ text('line_id') }} as line_id,
        {{ text('customer_id') }} as customer_id,
        _source_file,
        _row_number
    from source
),

final as (
    select * from renamed
)

select * from final
