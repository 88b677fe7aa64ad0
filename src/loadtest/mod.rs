//! The load-test tool and the calibration benchmark (in progress).

use crate::server::BoxError;

#[derive(clap::Args, Debug)]
pub struct LoadtestArgs {}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {}

pub async fn run_loadtest(_args: LoadtestArgs) -> Result<(), BoxError> {
    Err("loadtest is not built yet".into())
}

pub async fn run_bench(_args: BenchArgs) -> Result<(), BoxError> {
    Err("bench is not built yet".into())
}
