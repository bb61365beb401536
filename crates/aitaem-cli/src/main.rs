//! The `aitaem` command: validate specs, compute metrics, show plans, inspect sources, load CSVs.
//!
//! Exit codes: 0 success; 1 an error (invalid specs or configuration, a failed compute); 2 bad
//! usage; 3 a partial result (some sources failed) without `--allow-partial`.

mod output;
mod plot;
mod report;
mod target;
mod terminal;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aitaem::duckdb::{Existing, LoadOptions};
use aitaem::result::OutputFormat;
use aitaem::result::readable::Readable;
use aitaem::{
    Comparison, ComputeRequest, ConnectionManager, Error, MetricCompute, PeriodType, Project,
    Store, WeekStart,
};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use target::Target;

#[derive(Parser)]
#[command(
    name = "aitaem",
    version,
    about = "Compute metrics, slices and segments declared in YAML."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Exit code of a partial result without `--allow-partial`.
const PARTIAL: u8 = 3;

#[derive(Subcommand)]
enum Command {
    /// Load and validate specs; print a summary, or every problem with its location.
    #[command(
        after_help = "Examples:\n  aitaem validate --specs examples/ads\n  aitaem validate --metrics metrics/revenue.yaml --slices slices/"
    )]
    Validate(SpecArgs),
    /// Compute metrics and print or write the standard 11-column table.
    #[command(
        after_help = "Examples:\n  aitaem compute revenue ctr --specs examples/ads --slice device --segment platform_group\n  aitaem compute revenue --specs examples/ads --time-window 2024-01-01,2025-01-01 --period monthly --compare previous_year\n  aitaem compute revenue --specs examples/ads --by-entity user_id --output per_user.parquet"
    )]
    Compute {
        #[command(flatten)]
        request: RequestArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print the SQL a compute would run, per source, without running it.
    #[command(
        after_help = "Examples:\n  aitaem sql revenue ctr --specs examples/ads --slice country\n  aitaem sql revenue --specs examples/ads --slice country --explain"
    )]
    Sql {
        #[command(flatten)]
        request: RequestArgs,
        /// Also print the engine's query plan (EXPLAIN).
        #[arg(long)]
        explain: bool,
        /// Also print the bytes each statement would process where the backend bills by bytes
        /// (BigQuery; a dry run, which costs nothing).
        #[arg(long)]
        estimate: bool,
    },
    /// Show which slices and segments fit which metrics.
    #[command(after_help = "Example:\n  aitaem scan --specs examples/ads")]
    Scan {
        #[command(flatten)]
        specs: SpecArgs,
        #[command(flatten)]
        connections: ConnectionArgs,
    },
    /// Show, refresh or clear a result store (see `compute --store`).
    #[command(
        after_help = "Examples:\n  aitaem store status --store .aitaem-store\n  aitaem store refresh --store .aitaem-store --specs examples/ads\n  aitaem store clear --store .aitaem-store duckdb://events"
    )]
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// List the tables of the configured connections as source URIs.
    #[command(after_help = "Example:\n  aitaem tables --connections examples/ads/connections.yaml")]
    Tables {
        #[command(flatten)]
        connections: ConnectionArgs,
    },
    /// Show the columns and types of a source.
    #[command(
        after_help = "Examples:\n  aitaem describe duckdb://data/events.csv --connections examples/ads/connections.yaml\n  aitaem describe postgres://public/events --connections connections.yaml"
    )]
    Describe {
        /// A source URI, e.g. duckdb://analytics.db/events or duckdb://data/events.csv.
        source: String,
        #[command(flatten)]
        connections: ConnectionArgs,
    },
    /// Load a CSV file, or every CSV file of a directory, into a DuckDB database.
    #[command(
        after_help = "Examples:\n  aitaem load-csv examples/ads/data ads.duckdb\n  aitaem load-csv new_events.csv ads.duckdb --replace"
    )]
    LoadCsv {
        /// A CSV file or a directory of CSV files.
        path: PathBuf,
        /// The DuckDB database file (created if missing).
        db: PathBuf,
        /// Replace tables that already exist.
        #[arg(long)]
        replace: bool,
        /// Wait up to this long while another process uses the database.
        #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
        wait: Duration,
    },
    /// Create a ready-to-run project from CSV files: a DuckDB database with their data,
    /// connections.yaml, and starter metrics and slices inferred from the columns.
    #[command(
        after_help = "Examples:\n  aitaem init shop --from-csv sales.csv\n  aitaem init . --from-csv data/orders.csv data/customers.csv"
    )]
    Init {
        /// The project directory (created if missing); it must not hold a project yet.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The CSV files to load, each into a table named after it.
        #[arg(long = "from-csv", value_name = "CSV", required = true, num_args = 1..)]
        from_csv: Vec<PathBuf>,
    },
    /// Serve the project's metrics over HTTP (JSON, CSV, Arrow), and Arrow Flight SQL with
    /// --flight, until Ctrl-C or SIGTERM.
    #[command(
        after_help = "Examples:\n  aitaem serve --specs examples/ads\n  curl -s localhost:8080/v1/compute -d '{\"metrics\": [\"revenue\"], \"slices\": [\"device\"]}'\n  aitaem serve --specs examples/ads --flight 127.0.0.1:50051\n  AITAEM_TOKEN=secret aitaem serve --specs examples/ads --listen 0.0.0.0:8080"
    )]
    Serve {
        #[command(flatten)]
        specs: SpecArgs,
        #[command(flatten)]
        connections: ConnectionArgs,
        /// The address to listen on (port 0: any free port).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Also answer Arrow Flight SQL (for BI tools and ADBC/JDBC clients) on this address.
        #[arg(long, value_name = "ADDR")]
        flight: Option<std::net::SocketAddr>,
        /// A file holding the bearer token requests must carry (else $AITAEM_TOKEN); needed
        /// to listen on anything but a loopback address.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Computes that run at the same time (default: the number of cores).
        #[arg(long, value_name = "N")]
        max_concurrent: Option<usize>,
        /// Computes that may wait for a turn; beyond them, requests get 429.
        #[arg(long, value_name = "N")]
        max_queued: Option<usize>,
        /// How long a request may wait and run before it gets 504.
        #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = seconds)]
        timeout: Duration,
        /// The largest request body; larger ones get 413.
        #[arg(long, value_name = "BYTES", default_value = "1048576")]
        max_body: usize,
        /// Serve HTTPS with this certificate chain (PEM; with --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Keep partial aggregates in this result store, and answer from it what it holds.
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
    },
    /// Serve the project's tools to an AI assistant over MCP on stdin and stdout.
    #[command(
        after_help = "Example (an MCP client's configuration):\n  {\"mcpServers\": {\"metrics\": {\"command\": \"aitaem\", \"args\": [\"mcp\", \"--specs\", \"/path/to/project\"]}}}"
    )]
    Mcp {
        #[command(flatten)]
        specs: SpecArgs,
        #[command(flatten)]
        connections: ConnectionArgs,
        /// How long a compute may wait and run before it fails.
        #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = seconds)]
        timeout: Duration,
        /// Keep partial aggregates in this result store, and answer from it what it holds.
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  aitaem completions bash > ~/.local/share/bash-completion/completions/aitaem\n  aitaem completions zsh > ~/.zfunc/_aitaem\n  aitaem completions fish > ~/.config/fish/completions/aitaem.fish"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Clone)]
struct SpecArgs {
    /// Project directory with metrics/, slices/ and segments/ (default: the current directory).
    #[arg(long, value_name = "DIR")]
    specs: Option<PathBuf>,
    /// A metric spec file or directory (repeatable).
    #[arg(long = "metrics", id = "metric_paths", value_name = "PATH")]
    metrics: Vec<PathBuf>,
    /// A slice spec file or directory (repeatable).
    #[arg(long = "slices", id = "slice_paths", value_name = "PATH")]
    slices: Vec<PathBuf>,
    /// A segment spec file or directory (repeatable).
    #[arg(long = "segments", id = "segment_paths", value_name = "PATH")]
    segments: Vec<PathBuf>,
}

impl SpecArgs {
    /// The project: `--specs`, or the current directory when no spec paths are given, with the
    /// spec paths given.
    fn project(&self) -> Project {
        let explicit =
            !(self.metrics.is_empty() && self.slices.is_empty() && self.segments.is_empty());
        let project = match &self.specs {
            Some(dir) => Project::open(dir),
            None if explicit => Project::default(),
            None => Project::open("."),
        };
        project
            .metrics(self.metrics.iter().cloned())
            .slices(self.slices.iter().cloned())
            .segments(self.segments.iter().cloned())
    }
}

#[derive(Args, Clone)]
struct ConnectionArgs {
    /// The connections file (default: connections.yaml in the specs directory, if present).
    #[arg(long, value_name = "FILE")]
    connections: Option<PathBuf>,
    /// Wait up to this long while another process writes a database this command reads.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    wait: Duration,
}

impl ConnectionArgs {
    /// The project with `--connections` and `--wait`.
    fn apply(&self, project: Project) -> Project {
        let project = project.with_lock_wait(self.wait);
        match &self.connections {
            Some(file) => project.with_connections_file(file),
            None => project,
        }
    }

    /// The connections of a command that reads no specs.
    fn open(&self) -> Result<ConnectionManager, Error> {
        self.apply(Project::default()).connections()
    }
}

/// The token in a file (its first line, trimmed).
fn read_token(file: &std::path::Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
        path: file.to_path_buf(),
        source,
    })?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(Error::Configuration {
            message: format!("the token file {} is empty", file.display()),
            location: None,
        });
    }
    Ok(token)
}

/// A server error as an engine error, for the CLI's report.
fn serve_error(err: aitaem_serve::ServeError) -> Error {
    match err {
        aitaem_serve::ServeError::Project(err) => err,
        other => Error::Configuration {
            message: other.to_string(),
            location: None,
        },
    }
}

/// `--wait SECONDS` as a duration.
fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("`{text}` is not a number of seconds, 0 or more"))
}

/// `--time-window START,END`.
fn window(text: &str) -> Result<(String, String), String> {
    match text.split_once(',') {
        Some((start, end)) => Ok((start.trim().to_string(), end.trim().to_string())),
        None => Err(format!(
            "`{text}` must be START,END (e.g. 2024-01-01,2025-01-01)"
        )),
    }
}

/// The choices of `--period`.
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
enum Period {
    AllTime,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    Yearly,
}

impl From<Period> for PeriodType {
    fn from(period: Period) -> PeriodType {
        match period {
            Period::AllTime => PeriodType::AllTime,
            Period::Hourly => PeriodType::Hourly,
            Period::Daily => PeriodType::Daily,
            Period::Weekly => PeriodType::Weekly,
            Period::Monthly => PeriodType::Monthly,
            Period::Quarterly => PeriodType::Quarterly,
            Period::Yearly => PeriodType::Yearly,
        }
    }
}

/// The choices of `--week-start`.
#[derive(Clone, Copy, ValueEnum)]
enum Day {
    Monday,
    Sunday,
    Saturday,
}

impl From<Day> for WeekStart {
    fn from(day: Day) -> WeekStart {
        match day {
            Day::Monday => WeekStart::Monday,
            Day::Sunday => WeekStart::Sunday,
            Day::Saturday => WeekStart::Saturday,
        }
    }
}

/// The choices of `--compare`.
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
enum Compare {
    PreviousPeriod,
    PreviousYear,
}

impl From<Compare> for Comparison {
    fn from(compare: Compare) -> Comparison {
        match compare {
            Compare::PreviousPeriod => Comparison::PreviousPeriod,
            Compare::PreviousYear => Comparison::PreviousYear,
        }
    }
}

/// The choices of `--format`.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    LongTable,
    Csv,
    Json,
    Jsonl,
    Parquet,
}

impl From<Format> for OutputFormat {
    fn from(format: Format) -> OutputFormat {
        match format {
            Format::Table => OutputFormat::Table,
            Format::LongTable => OutputFormat::LongTable,
            Format::Csv => OutputFormat::Csv,
            Format::Json => OutputFormat::Json,
            Format::Jsonl => OutputFormat::Jsonl,
            Format::Parquet => OutputFormat::Parquet,
        }
    }
}

/// What to compute (`compute` and `sql`).
#[derive(Args, Clone)]
struct RequestArgs {
    /// Metric names.
    #[arg(required = true, value_name = "METRIC")]
    metric_names: Vec<String>,
    #[command(flatten)]
    specs: SpecArgs,
    #[command(flatten)]
    connections: ConnectionArgs,
    /// Count only the source rows for which this SQL predicate holds, for every metric
    /// (repeatable: all must hold).
    #[arg(long = "where", value_name = "PREDICATE")]
    filters: Vec<String>,
    /// Break down by a slice (repeatable).
    #[arg(long = "slice", value_name = "NAME")]
    slices: Vec<String>,
    /// A segment, optionally with the fact-table column to join it on: NAME or NAME=JOIN_KEY.
    #[arg(long, value_name = "NAME[=JOIN_KEY]")]
    segment: Option<String>,
    /// Keep rows with START <= timestamp < END (dates or date-times).
    #[arg(long, value_name = "START,END", value_parser = window)]
    time_window: Option<(String, String)>,
    /// How rows are grouped in time.
    #[arg(long, value_name = "P", value_enum, default_value_t = Period::AllTime)]
    period: Period,
    /// The day weekly periods start on (default monday).
    #[arg(long, value_name = "DAY", value_enum)]
    week_start: Option<Day>,
    /// Give every period of the window a row for every series with rows in the window (0 for
    /// single SUM/COUNT/COUNT DISTINCT metrics, empty otherwise).
    #[arg(long)]
    fill_gaps: bool,
    /// Add comparison_value, delta and delta_pct.
    #[arg(long, value_name = "WITH", value_enum)]
    compare: Option<Compare>,
    /// Add share_of_total: each value over its slice's (or segment's) total.
    #[arg(long)]
    share: bool,
    /// Add cumulative_value: the running total over the window.
    #[arg(long)]
    cumulative: bool,
    /// Add rolling_value: the total over the last N periods.
    #[arg(long, value_name = "N")]
    rolling: Option<u32>,
    /// Break every metric down by this entity column.
    #[arg(long, value_name = "COL")]
    by_entity: Option<String>,
    /// Order the rows (metric, slice and segment in request order, period, entity, values);
    /// always on for --format table and long-table.
    #[arg(long)]
    sort: bool,
    /// Keep partial aggregates in this result store, and answer from it what it holds.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// First refresh the result store (of --store or the connections file's `store:`): read
    /// what is new in the sources of its entries.
    #[arg(long)]
    refresh: bool,
}

/// What `aitaem store` does.
#[derive(Subcommand)]
enum StoreCommand {
    /// List what the store holds: source, metrics, grain, range read, size, last refresh.
    Status {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Read each entry's source again from its watermark less a lookback, and replace those
    /// periods' rows.
    Refresh {
        /// Only the entries of this source (as the specs write it).
        source: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
        /// Read again from this many hours before each entry's watermark, for late rows
        /// (default: the `store:` block's lookback, else 24).
        #[arg(long, value_name = "HOURS")]
        lookback: Option<u64>,
    },
    /// Delete every entry, or those of one source.
    Clear {
        /// Only the entries of this source (as the specs write it).
        source: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// The result store a `store` command works on, and the project around it.
#[derive(Args, Clone)]
struct StoreArgs {
    /// The store's directory (default: the `store:` block of connections.yaml).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    #[command(flatten)]
    specs: SpecArgs,
    #[command(flatten)]
    connections: ConnectionArgs,
}

impl StoreArgs {
    /// The project, with the store of `--store` when given.
    fn project(&self) -> Project {
        with_store(
            self.connections.apply(self.specs.project()),
            self.store.clone(),
        )
    }

    /// The store: `--store`'s directory (the connections file is then not read), else the
    /// connections file's `store:` block's.
    fn store(&self) -> Result<Store, Failure> {
        match &self.store {
            Some(dir) => Ok(Store::open(dir)?),
            None => configured_store(&self.project().connections()?),
        }
    }
}

/// The result store of a project's connections, or a usage error without one.
fn configured_store(connections: &ConnectionManager) -> Result<Store, Failure> {
    connections.store().cloned().ok_or_else(|| {
        usage("no result store: give --store DIR, or a `store:` block in connections.yaml")
    })
}

impl RequestArgs {
    /// The request; `sort` orders the rows even without `--sort`.
    fn request(&self, sort: bool) -> ComputeRequest {
        let mut request = ComputeRequest::new(self.metric_names.iter().cloned())
            .slices(self.slices.iter().cloned())
            .period(self.period.into())
            .sorted(self.sort || sort)
            .fill_gaps(self.fill_gaps)
            .share(self.share)
            .cumulative(self.cumulative);
        if let Some(segment) = &self.segment {
            request = match segment.split_once('=') {
                Some((name, key)) => request.segment(name.trim()).join_key(key.trim()),
                None => request.segment(segment.trim()),
            };
        }
        if let Some((start, end)) = &self.time_window {
            request = request.time_window(start, end);
        }
        if let Some(entity) = &self.by_entity {
            request = request.by_entity(entity);
        }
        if let Some(day) = self.week_start {
            request = request.week_start(day.into());
        }
        if let Some(comparison) = self.compare {
            request = request.compare(comparison.into());
        }
        if let Some(n) = self.rolling {
            request = request.rolling(n);
        }
        for filter in &self.filters {
            request = request.filter(filter);
        }
        request
    }

    /// The project, with `--connections` and `--wait`.
    fn project(&self) -> Project {
        with_store(
            self.connections.apply(self.specs.project()),
            self.store.clone(),
        )
    }
}

/// The project with the result store of `--store`, when given.
fn with_store(project: Project, store: Option<PathBuf>) -> Project {
    match store {
        Some(dir) => project.with_store(dir),
        None => project,
    }
}

/// Where and how `compute` writes its result.
#[derive(Args, Clone)]
struct OutputArgs {
    /// table (for reading: a column per metric), long-table (the standard columns), csv, json,
    /// jsonl or parquet (default: table on a terminal, otherwise from the --output extension,
    /// otherwise csv).
    #[arg(long, value_name = "FORMAT", value_enum)]
    format: Option<Format>,
    /// Write the result to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also draw a chart per metric into FILE.svg or FILE.png: lines over periods, or bars
    /// for all time.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Exit successfully with a partial result when some sources fail.
    #[arg(long)]
    allow_partial: bool,
}

impl OutputArgs {
    fn format(&self) -> OutputFormat {
        if let Some(format) = self.format {
            return format.into();
        }
        if let Some(path) = &self.output {
            return OutputFormat::from_extension(path).unwrap_or(OutputFormat::Csv);
        }
        if std::io::stdout().is_terminal() {
            OutputFormat::Table
        } else {
            OutputFormat::Csv
        }
    }
}

/// Why a command failed, which decides its exit code.
enum Failure {
    /// Bad usage (exit 2): printed as the argument parser prints its own errors.
    Usage(clap::Error),
    /// Everything else (exit 1).
    Failed(Error),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Failed(err)
    }
}

/// A usage error of the arguments.
fn usage(message: impl std::fmt::Display) -> Failure {
    Failure::Usage(Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message))
}

fn main() -> ExitCode {
    // A closed pipe ends the process quietly (`aitaem scan | head`), as it does other Unix
    // tools, instead of failing the next write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any other thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(Failure::Usage(err)) => err.exit(),
        Err(Failure::Failed(err)) => {
            report::error(&err);
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Validate(specs) => {
            let cache = specs.project().specs()?;
            output::summary(&cache);
            Ok(ExitCode::SUCCESS)
        }
        Command::Compute { request, output } => compute(&request, &output),
        Command::Init { dir, from_csv } => {
            output::init(&dir, &from_csv)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "aitaem", &mut script);
            print(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sql {
            request,
            explain,
            estimate,
        } => {
            if request.refresh {
                return Err(usage("--refresh is compute's: `sql` reads nothing"));
            }
            let (specs, connections) = request.project().load()?;
            let request = request.request(false);
            let computer = MetricCompute::new(&specs, &connections);
            let plan = computer.plan(&request)?;
            for notice in plan.notices() {
                report::notice(notice);
            }
            print!("{plan}");
            for statement in plan.statements() {
                if let Some(answer) = computer.describe_store(statement)? {
                    println!("\n-- result store, for {}: {answer}", statement.source());
                }
            }
            if explain {
                for statement in plan.statements() {
                    println!("\n-- plan of the statement for {}:", statement.source());
                    println!("{}", computer.explain(statement)?);
                }
            }
            if estimate {
                println!();
                for statement in plan.statements() {
                    match computer.estimate(statement)? {
                        Some(bytes) => println!(
                            "-- {}: would process {bytes} bytes ({})",
                            statement.source(),
                            output::bytes(bytes)
                        ),
                        None => println!(
                            "-- {}: no byte estimate ({} does not bill by bytes read)",
                            statement.source(),
                            statement.backend()
                        ),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Scan { specs, connections } => {
            let (cache, connections) = connections.apply(specs.project()).load()?;
            let scan = MetricCompute::new(&cache, &connections).scan()?;
            output::scan(&cache, &scan);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            specs,
            connections,
            listen,
            flight,
            token_file,
            max_concurrent,
            max_queued,
            timeout,
            max_body,
            tls_cert,
            tls_key,
            store,
        } => {
            let defaults = aitaem_serve::ServeOptions::default();
            let token = match token_file {
                Some(file) => Some(read_token(&file)?),
                None => std::env::var("AITAEM_TOKEN").ok().filter(|t| !t.is_empty()),
            };
            let options = aitaem_serve::ServeOptions {
                listen,
                token,
                max_concurrent: max_concurrent.unwrap_or(defaults.max_concurrent),
                max_queued: max_queued.unwrap_or(defaults.max_queued),
                timeout,
                body_limit: max_body,
                tls: tls_cert.zip(tls_key),
                flight,
            };
            let project = with_store(connections.apply(specs.project()), store);
            let server = aitaem_serve::Server::bind(project, options).map_err(serve_error)?;
            eprintln!("aitaem: listening on {}", server.url());
            if let Some(address) = server.flight_addr() {
                let scheme = if server.url().starts_with("https") {
                    "grpc+tls"
                } else {
                    "grpc"
                };
                eprintln!("aitaem: Flight SQL on {scheme}://{address}");
            }
            server.run().map_err(serve_error)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mcp {
            specs,
            connections,
            timeout,
            store,
        } => {
            let options = aitaem_serve::ServeOptions {
                timeout,
                ..aitaem_serve::ServeOptions::default()
            };
            let project = with_store(connections.apply(specs.project()), store);
            aitaem_serve::mcp_stdio(project, options).map_err(serve_error)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Store { command } => {
            match command {
                StoreCommand::Status { store } => output::store_status(&store.store()?.status()?),
                StoreCommand::Refresh {
                    source,
                    store,
                    lookback,
                } => {
                    let (specs, connections) = store.project().load()?;
                    let store = configured_store(&connections)?;
                    let store = match lookback {
                        Some(hours) => {
                            store.with_lookback(Duration::from_secs(hours.saturating_mul(3600)))
                        }
                        None => store,
                    };
                    let computer = MetricCompute::new(&specs, &connections).with_store(&store);
                    output::refreshed(&computer.refresh_store(source.as_deref())?);
                }
                StoreCommand::Clear { source, store } => {
                    let cleared = store.store()?.clear(source.as_deref())?;
                    println!(
                        "cleared {cleared} stored entr{}",
                        if cleared == 1 { "y" } else { "ies" }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tables { connections } => {
            let connections = connections.open()?;
            for uri in connections.list_tables()? {
                println!("{uri}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Describe {
            source,
            connections,
        } => {
            let connections = connections.open()?;
            output::columns(&connections.describe_table(&source)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::LoadCsv {
            path,
            db,
            replace,
            wait,
        } => {
            let existing = if replace {
                Existing::Replace
            } else {
                Existing::Refuse
            };
            let options = LoadOptions::default()
                .with_existing(existing)
                .with_lock_wait(wait);
            output::load_csv(&path, &db, options)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn compute(args: &RequestArgs, out: &OutputArgs) -> Result<ExitCode, Failure> {
    let format = out.format();
    if format == OutputFormat::Parquet && out.output.is_none() && std::io::stdout().is_terminal() {
        return Err(usage(
            "parquet output is binary; write it to a file with --output FILE",
        ));
    }
    // A table on a terminal is ordered.
    let request = args.request(matches!(
        format,
        OutputFormat::Table | OutputFormat::LongTable
    ));
    let (specs, connections) = args.project().load()?;
    let computer = MetricCompute::new(&specs, &connections);
    if args.refresh {
        output::refreshed(&computer.refresh_store(None)?);
    }
    let plan = computer.plan(&request)?;
    let databases = connections.files();
    let reads: Vec<&std::path::Path> = plan
        .files()
        .into_iter()
        .chain(databases.iter().map(PathBuf::as_path))
        .collect();
    let target = match &out.output {
        Some(path) => Some(Target::new(path, reads.iter().copied())?),
        None => None,
    };
    let chart = match &out.plot {
        Some(path) => Some(Target::new(path, reads.iter().copied())?),
        None => None,
    };
    for notice in plan.notices() {
        report::notice(notice);
    }
    let result = {
        let _spinner = terminal::Spinner::start(running(&plan));
        computer.run(&plan)?
    };
    for notice in result.notices().iter().skip(plan.notices().len()) {
        report::notice(notice);
    }
    for warning in result.warnings() {
        report::warning(warning);
    }
    if let Some(chart) = &chart {
        chart.draw(|file| plot::plot(result.batches(), file))?;
    }
    match target {
        Some(target) => target.write(|out| aitaem::result::write(result.batches(), format, out))?,
        None if format == OutputFormat::Table && std::io::stdout().is_terminal() => {
            let table = Readable::of(result.batches()).render(terminal::colour());
            terminal::page(&table)?;
        }
        None => {
            let mut buffer = Vec::new();
            aitaem::result::write(result.batches(), format, &mut buffer)?;
            print(&buffer)?;
        }
    }
    if !result.warnings().is_empty() && !out.allow_partial {
        eprintln!(
            "error: {} source(s) failed; the result above is partial (use --allow-partial to accept it)",
            result.warnings().len()
        );
        return Ok(ExitCode::from(PARTIAL));
    }
    Ok(ExitCode::SUCCESS)
}

/// What a plan runs, for the spinner: `computing revenue, ctr on duckdb://data/events.csv`.
fn running(plan: &aitaem::plan::Plan) -> String {
    let parts: Vec<String> = plan
        .statements()
        .iter()
        .map(|s| format!("{} on {}", s.metrics().join(", "), s.source()))
        .collect();
    format!("computing {}", parts.join("; "))
}

/// Writes to standard output; a reader that stops early (`| head`) is not an error.
fn print(bytes: &[u8]) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output {
            message: err.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        super::Cli::command().debug_assert();
    }

    /// docs/cli.md names every command and option the parser has, and every command's help has
    /// an example.
    #[test]
    fn the_documentation_lists_every_command_and_option() {
        let docs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md"))
                .unwrap();
        let mut cli = super::Cli::command();
        for command in cli.get_subcommands_mut() {
            let name = command.get_name().to_string();
            assert!(
                docs.contains(&format!("`aitaem {name}")),
                "docs/cli.md does not show `aitaem {name}`"
            );
            let help = command.render_help().to_string();
            assert!(
                help.contains("Example"),
                "`aitaem {name} --help` has no example"
            );
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long() {
                    assert!(
                        docs.contains(&format!("--{long}")),
                        "docs/cli.md does not mention `--{long}` of `aitaem {name}`"
                    );
                }
            }
        }
    }
}
