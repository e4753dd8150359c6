with

source as (
    select * from {{ source('raw', 'locations') }}
    where _reject_reason is null
),

renamed as (
    select
        {{ text('location') }} as location,
        {{ text('name') }} as name,
        {{ text('region') }} as region,
        lower({{ text('type') }}) as type,
        {{ text('timezone') }} as timezone
    from source
),

final as (
    select * from renamed
)

select * from final
