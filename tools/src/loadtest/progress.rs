//! Progress bars of `seed` and the load runs: on stderr, and drawn only when
//! stderr is a terminal (indicatif hides them otherwise), so neither a log
//! nor the `--json` report on stdout ever holds one.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps (a spinner when None), in `template` (indicatif's
/// template language).
pub fn bar(len: Option<u64>, template: &str) -> ProgressBar {
    let bar = match len {
        Some(len) => ProgressBar::new(len),
        None => ProgressBar::new_spinner(),
    };
    // The templates are constants of this crate; should one not parse, the
    // default style still shows the progress.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
