//! Generates the deterministic ad-events dataset used by the example project and the benchmark.
//!
//! ```text
//! cargo run --example generate_events -- --rows 1000000 --out DIR           # DIR/big.duckdb
//! cargo run --example generate_events -- --rows 3000 --users 400 --csv --out examples/ads/data
//! ```
//!
//! `events` is a realistic ad-events fact table: uniform timestamps over 2023-11-01 ..
//! 2024-12-31, users, devices, buyers and sellers, categorical columns with NULLs, non-ASCII and
//! quotes in values, zero impressions (Shopping on Pinterest Ads) and zero spend (organic).
//! `dim_platforms` is a 6-row dimension table (one platform of the facts is missing from it) and
//! `dim_users` classifies every user. Values come from a seeded integer mixing function evaluated
//! in DuckDB, so the same arguments give the same tables on any DuckDB version; with the default
//! user count, `events` equals the reference benchmark's table. The database file is written in
//! DuckDB's `v1.4.0` storage format (`--storage-version`), so DuckDB 1.4 and later, such as the
//! original Python library's pinned DuckDB 1.5, can read it too.

use std::path::PathBuf;

use duckdb::Connection;

const SPAN_S: i64 = 426 * 86400;

struct Options {
    rows: u64,
    users: u64,
    seed: u64,
    csv: bool,
    out: PathBuf,
    storage_version: String,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        rows: 0,
        users: 100_000,
        seed: 7,
        csv: false,
        out: PathBuf::from("."),
        storage_version: "v1.4.0".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--rows" => options.rows = value()?.parse().map_err(|e| format!("--rows: {e}"))?,
            "--users" => options.users = value()?.parse().map_err(|e| format!("--users: {e}"))?,
            "--seed" => options.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--out" => options.out = PathBuf::from(value()?),
            "--csv" => options.csv = true,
            "--storage-version" => options.storage_version = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.rows == 0 {
        return Err(
            "usage: generate_events --rows N [--users N] [--seed N] [--csv] --out DIR".into(),
        );
    }
    Ok(options)
}

/// A CASE expression picking `values[k]` where `u` falls in the k-th cumulative-weight bucket.
fn pick(u: &str, values: &[&str], weights: &[f64]) -> String {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut parts = Vec::new();
    for (v, w) in values[..values.len() - 1].iter().zip(weights) {
        acc += w / total;
        parts.push(format!("WHEN {u} < {acc:?} THEN '{v}'"));
    }
    format!(
        "CASE {} ELSE '{}' END",
        parts.join(" "),
        values[values.len() - 1]
    )
}

fn events_sql(rows: u64, users: u64) -> String {
    let platform = pick(
        "rnd(i, 4)",
        &[
            "Google Ads",
            "Meta Ads",
            "TikTok Ads",
            "Bing Ads",
            "Pinterest Ads",
            "Snap Ads",
            "Reddit Ads",
        ],
        &[30.0, 25.0, 15.0, 10.0, 8.0, 7.0, 5.0],
    );
    let ctype = pick(
        "rnd(i, 5)",
        &["Search", "Display", "Video", "Shopping"],
        &[35.0, 30.0, 20.0, 15.0],
    );
    let channel = pick(
        "rnd(i, 6)",
        &["cpc", "cpm", "organic", "affiliate"],
        &[45.0, 25.0, 20.0, 10.0],
    );
    let device = pick(
        "rnd(i, 7)",
        &["mobile", "desktop", "tablet"],
        &[55.0, 35.0, 10.0],
    );
    let country = pick(
        "rnd(i, 8)",
        &[
            "USA",
            "India",
            "Germany",
            "México",
            "Türkiye",
            "Côte d''Ivoire",
            "日本",
            "Brasil",
        ],
        &[25.0, 18.0, 14.0, 10.0, 8.0, 6.0, 10.0, 9.0],
    );
    let category = pick(
        "rnd(i, 9)",
        &[
            "Electronics",
            "Apparel",
            "Kids'' Toys",
            "Home & Garden",
            "Books \"Rare\"",
        ],
        &[1.0, 1.0, 1.0, 1.0, 1.0],
    );
    format!(
        r#"
    CREATE TABLE events AS
    WITH base AS (
      SELECT range AS i FROM range({rows})
    ), s1 AS (
      SELECT
        i + 1 AS event_id,
        TIMESTAMP '2023-11-01 00:00:00' + to_seconds(CAST(floor(rnd(i, 1) * {SPAN_S}) AS BIGINT)) AS event_ts,
        CASE WHEN rnd(i, 3) < 0.02 THEN NULL
             ELSE 'u' || lpad(CAST(CAST(floor(rnd(i, 2) * {users}) AS BIGINT) + 1 AS VARCHAR), 6, '0') END AS user_id,
        CASE WHEN rnd(i, 17) < 0.01 THEN NULL
             ELSE 'd' || lpad(CAST(CAST(floor(rnd(i, 16) * 200000) AS BIGINT) + 1 AS VARCHAR), 6, '0') END AS device_id,
        CASE WHEN rnd(i, 19) < 0.05 THEN NULL ELSE CAST(floor(rnd(i, 18) * 50000) AS INTEGER) + 1 END AS buyer_id,
        CASE WHEN rnd(i, 21) < 0.03 THEN NULL ELSE CAST(floor(rnd(i, 20) * 40000) AS INTEGER) + 1 END AS seller_id,
        CASE WHEN rnd(i, 22) < 0.02 THEN NULL ELSE {platform} END AS platform,
        {ctype} AS campaign_type,
        CASE WHEN rnd(i, 23) < 0.05 THEN NULL ELSE {channel} END AS channel,
        CASE WHEN rnd(i, 24) < 0.04 THEN NULL ELSE {device} END AS device_type,
        CASE WHEN rnd(i, 25) < 0.06 THEN NULL ELSE {country} END AS country,
        CASE WHEN rnd(i, 26) < 0.03 THEN NULL ELSE {category} END AS category,
        rnd(i, 10) AS u_zero_imp, rnd(i, 11) AS u_imp, rnd(i, 12) AS u_ctr, rnd(i, 27) AS u_null_clicks,
        rnd(i, 13) AS u_spend, rnd(i, 28) AS u_null_spend, rnd(i, 14) AS u_rev, rnd(i, 29) AS u_null_rev,
        rnd(i, 30) AS u_conv, CAST(floor(rnd(i, 15) * 6) AS INTEGER) AS quantity
      FROM base
    ), s2 AS (
      SELECT *,
        CASE WHEN campaign_type = 'Shopping' AND platform = 'Pinterest Ads' THEN 0
             WHEN u_zero_imp < 0.03 THEN 0
             ELSE CAST(floor(u_imp * 5000) AS INTEGER) + 1 END AS impressions
      FROM s1
    ), s3 AS (
      SELECT *,
        CASE WHEN u_null_clicks < 0.04 THEN NULL
             ELSE CAST(floor(impressions * u_ctr * 0.08) AS INTEGER) END AS clicks
      FROM s2
    )
    SELECT
      event_id, event_ts, CAST(event_ts AS DATE) AS event_date, user_id, device_id, buyer_id, seller_id,
      platform, campaign_type, channel, device_type,
      CASE WHEN device_type IS NULL THEN NULL ELSE device_type = 'mobile' END AS is_mobile,
      country, category, impressions, clicks,
      CASE WHEN clicks IS NULL OR clicks = 0 THEN 0 ELSE CAST(floor(u_conv * (clicks // 10 + 1)) AS INTEGER) END
        AS conversions,
      CASE WHEN channel = 'organic' THEN 0.0
           WHEN u_null_spend < 0.02 THEN NULL
           ELSE round(u_spend * 120, 2) END AS ad_spend,
      CASE WHEN category = 'Books "Rare"' AND platform = 'Snap Ads' THEN NULL
           WHEN u_null_rev < 0.05 THEN NULL
           ELSE round(-ln(1 - u_rev) * 60, 2) END AS revenue,
      quantity
    FROM s3
    ORDER BY event_id
    "#
    )
}

const DIMENSIONS: &str = r#"
    CREATE TABLE dim_platforms (platform VARCHAR, platform_group VARCHAR, is_paid BOOLEAN, owner VARCHAR);
    INSERT INTO dim_platforms VALUES
      ('Google Ads', 'search', true, 'Alphabet'), ('Bing Ads', 'search', true, 'Microsoft'),
      ('Meta Ads', 'social', true, 'Meta'), ('TikTok Ads', 'social', true, 'ByteDance'),
      ('Pinterest Ads', 'social', false, 'Pinterest'), ('Snap Ads', NULL, true, 'Snap Inc.');
"#;

fn users_sql(users: u64) -> String {
    format!(
        r#"
    CREATE TABLE dim_users AS
    SELECT 'u' || lpad(CAST(range + 1 AS VARCHAR), 6, '0') AS user_id,
           CASE WHEN rnd(range, 40) < 0.6 THEN 'free' WHEN rnd(range, 40) < 0.9 THEN 'pro' ELSE 'enterprise' END AS tier,
           CASE WHEN rnd(range, 41) < 0.05 THEN NULL WHEN rnd(range, 41) < 0.5 THEN 'EMEA'
                WHEN rnd(range, 41) < 0.8 THEN 'AMER' ELSE 'APAC' END AS region
    FROM range({users})
    "#
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_args()?;
    std::fs::create_dir_all(&options.out)?;
    let db = options.out.join("big.duckdb");
    let conn = Connection::open_in_memory()?;
    if !options.csv {
        for suffix in ["", ".wal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        conn.execute_batch(&format!(
            "ATTACH '{}' AS big (STORAGE_VERSION '{}'); USE big;",
            db.display().to_string().replace('\'', "''"),
            options.storage_version.replace('\'', "''")
        ))?;
    }
    let seed = options.seed;
    conn.execute_batch(&format!(
        "CREATE TEMP MACRO mx1(i, s) AS ((i * 2654435761 + s * 40503 + {seed}) % 4294967291);
         CREATE TEMP MACRO mx2(z) AS ((xor(z, z >> 13) * 1103515245 + 12345) % 4294967291);
         CREATE TEMP MACRO mx3(z) AS ((xor(z, z >> 16) * 1597334677 + 2531011) % 4294967291);
         CREATE TEMP MACRO rnd(i, s) AS (mx3(mx2(mx1(i, s))) / 4294967291.0);"
    ))?;
    let started = std::time::Instant::now();
    conn.execute_batch(&events_sql(options.rows, options.users))?;
    conn.execute_batch(DIMENSIONS)?;
    conn.execute_batch(&users_sql(options.users))?;
    if options.csv {
        for table in ["events", "dim_platforms", "dim_users"] {
            let file = options.out.join(format!("{table}.csv"));
            conn.execute_batch(&format!(
                "COPY (SELECT * FROM {table}) TO '{}' (HEADER, DELIMITER ',')",
                file.display().to_string().replace('\'', "''")
            ))?;
        }
    } else {
        std::fs::write(
            options.out.join("connections.yaml"),
            "duckdb:\n  path: big.duckdb\n",
        )?;
    }
    let (rows, revenue): (i64, f64) = conn.query_row(
        "SELECT COUNT(*), round(SUM(revenue), 2) FROM events",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if !options.csv {
        conn.execute_batch("CHECKPOINT; USE memory; DETACH big;")?;
    }
    eprintln!(
        "events: {rows} rows, sum(revenue) = {revenue}, built in {:.1} s -> {}",
        started.elapsed().as_secs_f64(),
        options.out.display()
    );
    Ok(())
}
