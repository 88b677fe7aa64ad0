//! The load engine: workers that call a [`Workload`] either closed-loop (each
//! worker issues its next call when the previous one returns) or open-loop
//! (calls are due on a fixed schedule, and latency is measured from the time
//! a call was due, so a stalled server cannot hide its queueing: no
//! coordinated omission). Latencies go into per-worker HDR histograms, one per
//! operation, merged at the end.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use tokio::time::Instant;

use super::progress;
use partnercenter::BoxError;

/// The slowest latency a histogram tells apart (one minute, in microseconds);
/// slower calls are recorded as this value.
pub const MAX_LATENCY_MICROS: u64 = 60_000_000;

/// What one call did: the operation's name and its gRPC outcome.
pub type Outcome = (&'static str, Result<(), tonic::Code>);

/// Something the engine can drive. Each worker owns a `State` (its clients,
/// random numbers, paging cursor), so calls need no locks.
pub trait Workload: Send + Sync + 'static {
    type State: Send + 'static;

    fn state(&self, worker: usize) -> Self::State;

    fn call(&self, state: &mut Self::State) -> impl Future<Output = Outcome> + Send;
}

/// How long, how hard and how much to drive a workload.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Shown on the progress line.
    pub name: String,
    /// Calls in flight at most (the number of workers).
    pub concurrency: usize,
    /// Calls per second, open loop; 0 means closed loop.
    pub rate: f64,
    /// Calls during the warm-up are made but not recorded.
    pub warmup: Duration,
    /// Length of the measured phase; None: until `requests` are done.
    pub duration: Option<Duration>,
    /// Measured calls to make; None: until `duration` has passed.
    pub requests: Option<u64>,
    /// The measured phase never runs longer than this, whatever the other
    /// limits say, so a run always stops by itself.
    pub max_duration: Duration,
    /// A call taking longer than this is abandoned and counted as
    /// DEADLINE_EXCEEDED (it bounds the tail of a run, too).
    pub call_timeout: Duration,
    pub progress: bool,
}

impl Plan {
    fn measured_length(&self) -> Duration {
        match self.duration {
            Some(duration) => duration.min(self.max_duration),
            None => self.max_duration,
        }
    }
}

/// Latencies and errors of one operation.
#[derive(Clone)]
pub struct OpStats {
    /// Latency of successful calls, in microseconds.
    pub latency: Histogram<u64>,
    /// Failed calls by gRPC code name (e.g. "Unavailable").
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    pub fn new() -> Result<Self, BoxError> {
        Ok(OpStats {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)?,
            errors: BTreeMap::new(),
        })
    }

    pub fn ok(&self) -> u64 {
        self.latency.len()
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn merge(&mut self, other: &OpStats) -> Result<(), BoxError> {
        self.latency.add(&other.latency)?;
        for (code, count) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += count;
        }
        Ok(())
    }
}

/// The measured phase of one run.
#[derive(Clone)]
pub struct RunStats {
    pub name: String,
    /// From the start of the measured phase to the last recorded completion.
    pub elapsed: Duration,
    pub ops: BTreeMap<&'static str, OpStats>,
    pub plan: Plan,
}

impl RunStats {
    /// Every operation together.
    pub fn total(&self) -> Result<OpStats, BoxError> {
        let mut total = OpStats::new()?;
        for stats in self.ops.values() {
            total.merge(stats)?;
        }
        Ok(total)
    }

    pub fn calls(&self) -> u64 {
        self.ops.values().map(|op| op.ok() + op.failed()).sum()
    }

    pub fn failed(&self) -> u64 {
        self.ops.values().map(OpStats::failed).sum()
    }

    /// Completed calls (successful or not) per second of the measured phase.
    pub fn throughput(&self) -> f64 {
        per_second(self.calls(), self.elapsed)
    }
}

pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 { count as f64 / seconds } else { 0.0 }
}

/// The open-loop schedule: call number `ticket` is due `ticket / rate`
/// seconds after the start.
pub fn due_offset(ticket: u64, rate: f64) -> Duration {
    if rate > 0.0 {
        Duration::from_secs_f64(ticket as f64 / rate)
    } else {
        Duration::ZERO
    }
}

/// Open loop: the number of tickets due before `offset` (the warm-up's share).
pub fn tickets_before(offset: Duration, rate: f64) -> u64 {
    (offset.as_secs_f64() * rate).ceil() as u64
}

/// State shared by the workers of one run.
struct Shared {
    start: Instant,
    measure_start: Instant,
    end: Instant,
    /// Closed loop with `requests`: measured calls issued so far.
    issued: AtomicU64,
    /// Open loop: the next ticket of the schedule.
    tickets: AtomicU64,
    ticket_limit: Option<u64>,
    completed: AtomicU64,
    failed: AtomicU64,
}

/// One worker's records, merged after the run.
struct Recorder {
    template: OpStats,
    ops: Vec<(&'static str, OpStats)>,
    last_finish: Option<Instant>,
}

impl Recorder {
    fn record(&mut self, op: &'static str, latency: Duration, result: Result<(), tonic::Code>, finished: Instant) {
        let index = match self.ops.iter().position(|(name, _)| *name == op) {
            Some(index) => index,
            None => {
                self.ops.push((op, self.template.clone()));
                self.ops.len() - 1
            }
        };
        let stats = &mut self.ops[index].1;
        match result {
            Ok(()) => {
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                stats.latency.saturating_record(micros.clamp(1, MAX_LATENCY_MICROS));
            }
            Err(code) => *stats.errors.entry(format!("{code:?}")).or_default() += 1,
        }
        self.last_finish = Some(self.last_finish.map_or(finished, |last| last.max(finished)));
    }
}

/// Drives `workload` as `plan` says and returns what the measured phase saw.
pub async fn run<W: Workload>(workload: Arc<W>, plan: &Plan) -> Result<RunStats, BoxError> {
    let template = OpStats::new()?;
    let start = Instant::now();
    let measure_start = start + plan.warmup;
    let end = measure_start + plan.measured_length();
    let open_loop = plan.rate > 0.0;
    let ticket_limit = match (open_loop, plan.requests) {
        (true, Some(requests)) => Some(tickets_before(plan.warmup, plan.rate).saturating_add(requests)),
        _ => None,
    };
    let shared = Arc::new(Shared {
        start,
        measure_start,
        end,
        issued: AtomicU64::new(0),
        tickets: AtomicU64::new(0),
        ticket_limit,
        completed: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let progress = plan.progress.then(|| {
        let bar = progress_bar(&shared, &plan.name, plan.requests);
        (
            tokio::spawn(show_progress(shared.clone(), bar.clone(), plan.requests)),
            bar,
        )
    });

    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..plan.concurrency.max(1) {
        let recorder = Recorder {
            template: template.clone(),
            ops: Vec::new(),
            last_finish: None,
        };
        let state = workload.state(worker);
        let (workload, shared, plan) = (workload.clone(), shared.clone(), plan.clone());
        workers.spawn(async move {
            if open_loop {
                open_worker(workload, state, shared, recorder, &plan).await
            } else {
                closed_worker(workload, state, shared, recorder, &plan).await
            }
        });
    }
    let mut ops: BTreeMap<&'static str, OpStats> = BTreeMap::new();
    let mut last_finish = measure_start;
    while let Some(joined) = workers.join_next().await {
        let recorder = joined?;
        if let Some(finish) = recorder.last_finish {
            last_finish = last_finish.max(finish);
        }
        for (op, stats) in recorder.ops {
            match ops.get_mut(op) {
                Some(merged) => merged.merge(&stats)?,
                None => {
                    ops.insert(op, stats);
                }
            }
        }
    }
    if let Some((ticker, bar)) = progress {
        ticker.abort();
        bar.finish_and_clear();
    }
    Ok(RunStats {
        name: plan.name.clone(),
        elapsed: last_finish.saturating_duration_since(measure_start),
        ops,
        plan: plan.clone(),
    })
}

async fn timed_call<W: Workload>(workload: &W, state: &mut W::State, timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, workload.call(state)).await {
        Ok(outcome) => outcome,
        // The operation's name is lost with the abandoned call.
        Err(_) => ("(timed out)", Err(tonic::Code::DeadlineExceeded)),
    }
}

async fn closed_worker<W: Workload>(
    workload: Arc<W>,
    mut state: W::State,
    shared: Arc<Shared>,
    mut recorder: Recorder,
    plan: &Plan,
) -> Recorder {
    loop {
        let started = Instant::now();
        if started >= shared.end {
            break;
        }
        let measured = started >= shared.measure_start;
        if measured
            && let Some(limit) = plan.requests
            && shared.issued.fetch_add(1, Ordering::Relaxed) >= limit
        {
            break;
        }
        let (op, result) = timed_call(&*workload, &mut state, plan.call_timeout).await;
        let finished = Instant::now();
        count(&shared, result.is_ok());
        if measured {
            recorder.record(op, finished - started, result, finished);
        }
    }
    recorder
}

async fn open_worker<W: Workload>(
    workload: Arc<W>,
    mut state: W::State,
    shared: Arc<Shared>,
    mut recorder: Recorder,
    plan: &Plan,
) -> Recorder {
    loop {
        let ticket = shared.tickets.fetch_add(1, Ordering::Relaxed);
        if shared.ticket_limit.is_some_and(|limit| ticket >= limit) {
            break;
        }
        let due = shared.start + due_offset(ticket, plan.rate);
        if due >= shared.end {
            break;
        }
        let arrived = Instant::now();
        tokio::time::sleep_until(due).await;
        // Latency counts from when the call was due, not when it was sent:
        // time spent waiting for a free worker is latency the caller would
        // see. But a worker that was free before then waited on tokio's
        // timer, which wakes on millisecond ticks: up to a millisecond
        // late, the generator's delay, not the server's. Such a call counts
        // from when it was sent.
        let origin = if arrived < due { Instant::now() } else { due };
        let (op, result) = timed_call(&*workload, &mut state, plan.call_timeout).await;
        let finished = Instant::now();
        count(&shared, result.is_ok());
        if due >= shared.measure_start {
            recorder.record(op, finished - origin, result, finished);
        }
    }
    recorder
}

fn count(shared: &Shared, ok: bool) {
    shared.completed.fetch_add(1, Ordering::Relaxed);
    if !ok {
        shared.failed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The run's bar: over the measured time, or a spinner when a number of
/// requests ends the run.
fn progress_bar(shared: &Shared, name: &str, requests: Option<u64>) -> ProgressBar {
    let bar = match requests {
        Some(_) => progress::bar(None, "[{prefix}] {spinner} {elapsed} {msg}"),
        None => progress::bar(
            Some((shared.end - shared.measure_start).as_millis() as u64),
            "[{prefix}] {wide_bar} {msg}",
        ),
    };
    bar.set_prefix(name.to_owned());
    bar
}

/// Progress on stderr: the bar on a terminal, and a plain line every few
/// seconds otherwise (so logs of CI runs stay readable and show the run is
/// alive).
async fn show_progress(shared: Arc<Shared>, bar: ProgressBar, requests: Option<u64>) {
    let every = if bar.is_hidden() {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(500)
    };
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    let mut previous = (Instant::now(), 0u64);
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let completed = shared.completed.load(Ordering::Relaxed);
        let failed = shared.failed.load(Ordering::Relaxed);
        let rate = per_second(completed - previous.1, now - previous.0);
        previous = (now, completed);
        let measured = now.saturating_duration_since(shared.measure_start);
        let phase = if now < shared.measure_start {
            format!("warm-up {:.0}s", (shared.measure_start - now).as_secs_f64())
        } else {
            let limit = match requests {
                Some(requests) => format!("{requests} requests"),
                None => format!("{:.0}s", (shared.end - shared.measure_start).as_secs_f64()),
            };
            format!("{:.0}s of {limit}", measured.as_secs_f64())
        };
        let line = format!("{phase}: {completed} calls, {rate:.0}/s, {failed} failed");
        if bar.is_hidden() {
            eprintln!("[{}] {line}", bar.prefix());
        } else {
            bar.set_position(measured.as_millis() as u64);
            bar.set_message(line);
            // Turns the spinner (a bar just redraws).
            bar.tick();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spaces_calls_evenly() {
        assert_eq!(due_offset(0, 100.0), Duration::ZERO);
        assert_eq!(due_offset(50, 100.0), Duration::from_millis(500));
        assert_eq!(due_offset(1000, 250.0), Duration::from_secs(4));
        assert_eq!(tickets_before(Duration::from_secs(2), 100.0), 200);
        assert_eq!(tickets_before(Duration::from_millis(1500), 3.0), 5);
    }

    /// Succeeds at once, except every tenth call, which fails.
    struct Flaky;

    impl Workload for Flaky {
        type State = u64;

        fn state(&self, _worker: usize) -> u64 {
            0
        }

        fn call(&self, calls: &mut u64) -> impl Future<Output = Outcome> + Send {
            *calls += 1;
            let fail = (*calls).is_multiple_of(10);
            async move {
                tokio::task::yield_now().await;
                ("Flaky", if fail { Err(tonic::Code::Unavailable) } else { Ok(()) })
            }
        }
    }

    fn plan(rate: f64, duration: Option<Duration>, requests: Option<u64>) -> Plan {
        Plan {
            name: "test".into(),
            concurrency: 4,
            rate,
            warmup: Duration::ZERO,
            duration,
            requests,
            max_duration: Duration::from_secs(5),
            call_timeout: Duration::from_secs(1),
            progress: false,
        }
    }

    #[tokio::test]
    async fn a_closed_loop_stops_at_its_request_count() {
        let stats = run(Arc::new(Flaky), &plan(0.0, None, Some(1000))).await.unwrap();
        assert_eq!(stats.calls(), 1000);
        assert_eq!(stats.failed(), 100);
        assert_eq!(stats.ops["Flaky"].errors["Unavailable"], 100);
    }

    #[tokio::test]
    async fn an_open_loop_keeps_its_rate() {
        let stats = run(Arc::new(Flaky), &plan(200.0, Some(Duration::from_millis(500)), None))
            .await
            .unwrap();
        // 100 calls are due in half a second; the timer's granularity may add
        // or drop one at the edge.
        assert!((99..=101).contains(&stats.calls()), "{} calls", stats.calls());
        let throughput = stats.throughput();
        assert!((150.0..=260.0).contains(&throughput), "{throughput}/s");
    }
}
