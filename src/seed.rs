//! Bulk seeding of a synthetic dataset (in progress).

use crate::config::Config;
use crate::server::BoxError;

#[derive(clap::Args, Debug)]
pub struct SeedArgs {}

pub async fn run(_config: &Config, _args: SeedArgs) -> Result<(), BoxError> {
    Err("seed is not built yet".into())
}
