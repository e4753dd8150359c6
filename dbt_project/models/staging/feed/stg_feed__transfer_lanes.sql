with

source as (
    select * from {{ source('raw', 'transfer_lanes') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ text('from_location') }} as from_location,
        {{ text('to_location') }} as to_location,
        {{ number('lead_time_days') }} as lead_time_days,
        coalesce({{ number('cost_per_unit') }}, 0) as cost_per_unit,
        _source_file,
        _row_number
    from source
),

final as (
    select * from renamed
)

select * from final
