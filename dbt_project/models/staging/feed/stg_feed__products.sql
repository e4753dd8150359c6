with

source as (
    select * from {{ source('raw', 'products') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ text('sku') }} as sku,
        {{ text('category') }} as category,
        {{ text('subcategory') }} as subcategory,
        {{ text('name') }} as name,
        {{ text('supplier') }} as supplier,
        {{ number('lead_time_days') }} as lead_time_days,
        {{ number('lead_time_std_days') }} as lead_time_std_days,
        {{ number('unit_cost') }} as unit_cost,
        {{ number('unit_price') }} as unit_price,
        coalesce(cast({{ number('moq') }} as bigint), 1) as moq,
        coalesce(cast({{ number('pack_size') }} as bigint), 1) as pack_size,
        {{ number('max_stock') }} as max_stock,
        {{ number('service_level') }} as service_level,
        {{ to_boolean('active', 'true') }} as active,
        _source_file,
        _row_number
    from source
),

final as (
    select * from renamed
)

select * from final
