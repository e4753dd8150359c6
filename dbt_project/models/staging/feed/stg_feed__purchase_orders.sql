with

source as (
    select * from {{ source('raw', 'purchase_orders') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ text('po_id') }} as po_id,
        {{ text('sku') }} as sku,
        {{ text('location') }} as location,
        {{ business_date('order_date') }} as order_date,
        {{ number('quantity') }} as quantity,
        {{ business_date('expected_date') }} as expected_date,
        {{ business_date('received_date') }} as received_date,
        {{ number('received_quantity') }} as received_quantity,
        lower({{ text('status') }}) as status_given
    from source
),

final as (
    select
        po_id,
        sku,
        location,
        order_date,
        quantity,
        expected_date,
        received_date,
        received_quantity,
        -- no status given: a line with a receipt date is received, else still open
        coalesce(
            status_given,
            case when received_date is not null then 'received' else 'open' end
        ) as status
    from renamed
)

select * from final
