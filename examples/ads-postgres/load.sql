-- Loads the example project's data into the schema `ads` of a PostgreSQL database.
-- Run from the repository root (the CSV paths are relative to it):
--   psql "$AITAEM_POSTGRES_URL" -v ON_ERROR_STOP=1 -f examples/ads-postgres/load.sql
-- It creates the tables and refuses to run when they already exist.
CREATE SCHEMA IF NOT EXISTS ads;
CREATE TABLE ads.events (
    event_id bigint, event_ts timestamp, event_date date, user_id text, device_id text,
    buyer_id bigint, seller_id bigint, platform text, campaign_type text, channel text,
    device_type text, is_mobile boolean, country text, category text, impressions bigint,
    clicks bigint, conversions bigint, ad_spend double precision, revenue double precision,
    quantity bigint
);
CREATE TABLE ads.dim_users (user_id text, tier text, region text);
CREATE TABLE ads.dim_platforms (platform text, platform_group text, is_paid boolean, owner text);
\copy ads.events FROM 'examples/ads/data/events.csv' WITH (FORMAT csv, HEADER)
\copy ads.dim_users FROM 'examples/ads/data/dim_users.csv' WITH (FORMAT csv, HEADER)
\copy ads.dim_platforms FROM 'examples/ads/data/dim_platforms.csv' WITH (FORMAT csv, HEADER)
