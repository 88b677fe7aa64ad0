//! The final report of a run: throughput, latency percentiles from the HDR
//! histograms, and errors by gRPC code; printed for people or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::engine::{OpStats, RunStats, per_second};
use partnercenter::BoxError;

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// From a histogram of microseconds; all zero when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Latency::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Latency {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1000.0,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct OpReport {
    pub operation: String,
    pub calls: u64,
    pub failed: u64,
    pub throughput_per_second: f64,
    /// Of successful calls.
    pub latency_ms: Latency,
    pub errors: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub target: String,
    pub dataset: String,
    pub connections: usize,
    pub concurrency: usize,
    /// Calls per second asked for (open loop); 0: closed loop.
    pub target_rate: f64,
    pub warmup_seconds: f64,
    /// Length of the measured phase.
    pub measured_seconds: f64,
    pub calls: u64,
    pub failed: u64,
    pub throughput_per_second: f64,
    /// For batch-check: checks decided per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks_per_second: Option<f64>,
    /// Of successful calls.
    pub latency_ms: Latency,
    /// Failed calls by gRPC code.
    pub errors: BTreeMap<String, u64>,
    pub operations: Vec<OpReport>,
}

fn op_report(operation: &str, stats: &OpStats, elapsed: std::time::Duration) -> OpReport {
    let calls = stats.ok() + stats.failed();
    OpReport {
        operation: operation.to_owned(),
        calls,
        failed: stats.failed(),
        throughput_per_second: per_second(calls, elapsed),
        latency_ms: Latency::of(&stats.latency),
        errors: stats.errors.clone(),
    }
}

impl Report {
    pub fn new(
        stats: &RunStats,
        target: &str,
        dataset: &str,
        connections: usize,
        checks_per_call: Option<usize>,
    ) -> Result<Self, BoxError> {
        let total = stats.total()?;
        let throughput = stats.throughput();
        Ok(Report {
            scenario: stats.name.clone(),
            target: target.to_owned(),
            dataset: dataset.to_owned(),
            connections,
            concurrency: stats.plan.concurrency,
            target_rate: stats.plan.rate,
            warmup_seconds: stats.plan.warmup.as_secs_f64(),
            measured_seconds: stats.elapsed.as_secs_f64(),
            calls: stats.calls(),
            failed: stats.failed(),
            throughput_per_second: throughput,
            checks_per_second: checks_per_call.map(|n| per_second(total.ok() * n as u64, stats.elapsed)),
            latency_ms: Latency::of(&total.latency),
            errors: total.errors.clone(),
            operations: stats
                .ops
                .iter()
                .map(|(operation, op)| op_report(operation, op, stats.elapsed))
                .collect(),
        })
    }

    pub fn to_json(&self) -> Result<String, BoxError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mode = if self.target_rate > 0.0 {
            format!("open loop at {:.0}/s", self.target_rate)
        } else {
            "closed loop".to_owned()
        };
        let _ = writeln!(
            out,
            "scenario {} against {}: {} in flight on {} connection(s), {mode}, {:.1}s measured after {:.1}s warm-up",
            self.scenario, self.target, self.concurrency, self.connections, self.measured_seconds, self.warmup_seconds
        );
        let _ = writeln!(out, "dataset: {}", self.dataset);
        let _ = writeln!(
            out,
            "calls: {} ({} failed), throughput {:.1}/s{}",
            self.calls,
            self.failed,
            self.throughput_per_second,
            self.checks_per_second
                .map(|checks| format!(" ({checks:.0} checks/s)"))
                .unwrap_or_default()
        );
        let _ = writeln!(out, "latency ms: {}", latency_text(&self.latency_ms));
        if self.operations.len() > 1 {
            for op in &self.operations {
                let _ = writeln!(
                    out,
                    "  {:<26} {:>9} calls {:>6} failed {:>10.1}/s  {}",
                    op.operation,
                    op.calls,
                    op.failed,
                    op.throughput_per_second,
                    latency_text(&op.latency_ms)
                );
            }
        }
        if self.errors.is_empty() {
            let _ = writeln!(out, "errors: none");
        } else {
            let errors: Vec<String> = self.errors.iter().map(|(code, n)| format!("{code} {n}")).collect();
            let _ = writeln!(out, "errors by gRPC code: {}", errors.join(", "));
        }
        out
    }
}

pub fn latency_text(latency: &Latency) -> String {
    format!(
        "p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        latency.p50, latency.p90, latency.p99, latency.p999, latency.max
    )
}

/// The median of a few measurements (the mean of the middle two for an
/// even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadtest::engine::{MAX_LATENCY_MICROS, Plan};

    fn uniform_histogram() -> Histogram<u64> {
        let mut histogram = Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3).unwrap();
        // 1 ms to 10 ms in steps of 1 µs.
        for micros in 1_000..=10_000 {
            histogram.record(micros).unwrap();
        }
        histogram
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let latency = Latency::of(&uniform_histogram());
        // Three significant digits: within 0.1% of the exact values.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(close(latency.p50, 5.5), "{latency:?}");
        assert!(close(latency.p90, 9.1), "{latency:?}");
        assert!(close(latency.p99, 9.91), "{latency:?}");
        assert!(close(latency.p999, 9.991), "{latency:?}");
        assert!(close(latency.max, 10.0), "{latency:?}");
        assert!(close(latency.mean, 5.5), "{latency:?}");
        assert_eq!(Latency::of(&Histogram::new(3).unwrap()), Latency::default());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn the_json_report_has_its_fields() {
        let mut check = OpStats::new().unwrap();
        check.latency = uniform_histogram();
        check.errors.insert("Unavailable".into(), 2);
        let stats = RunStats {
            name: "check".into(),
            elapsed: std::time::Duration::from_secs(2),
            ops: [("CheckAccess", check)].into_iter().collect(),
            plan: Plan {
                name: "check".into(),
                concurrency: 8,
                rate: 0.0,
                warmup: std::time::Duration::from_secs(1),
                duration: Some(std::time::Duration::from_secs(2)),
                requests: None,
                max_duration: std::time::Duration::from_secs(60),
                call_timeout: std::time::Duration::from_secs(1),
                progress: false,
            },
        };
        let report = Report::new(&stats, "127.0.0.1:1", "tiny", 2, None).unwrap();
        let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        assert_eq!(json["scenario"], "check");
        assert_eq!(json["calls"], 9003);
        assert_eq!(json["failed"], 2);
        assert_eq!(json["errors"]["Unavailable"], 2);
        assert!((json["throughput_per_second"].as_f64().unwrap() - 4501.5).abs() < 1e-9);
        for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
            assert!(json["latency_ms"][key].is_number(), "{key}");
        }
        assert_eq!(json["operations"][0]["operation"], "CheckAccess");
        assert!(json.get("checks_per_second").is_none());
        assert!(report.to_text().contains("errors by gRPC code: Unavailable 2"));
    }
}
