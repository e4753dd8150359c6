with

source as (
    select * from {{ source('raw', 'suppliers') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ text('supplier') }} as supplier,
        {{ number('lead_time_days') }} as lead_time_days,
        {{ number('min_order_value') }} as min_order_value,
        {{ number('min_order_units') }} as min_order_units,
        lower({{ text('order_weekdays') }}) as order_weekdays,
        cast({{ number('case_size') }} as bigint) as case_size,
        {{ number('express_lead_time_days') }} as express_lead_time_days,
        {{ number('express_cost_pct') }} as express_cost_pct,
        _source_file,
        _row_number
    from source
),

final as (
    select * from renamed
)

select * from final
