//! What a terminal gets that a pipe or file does not: colour and a pager.

use std::io::Write;
use std::process::{Command, Stdio};

use aitaem::Error;

/// Whether to colour what goes to the terminal: not when `NO_COLOR` is set (to anything but
/// an empty string), as <https://no-color.org> asks.
pub fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Shows `text` through `$PAGER` (default `less`, which leaves at once when the text fits on
/// the screen), or prints it when there is no pager.
pub fn page(text: &str) -> Result<(), Error> {
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .or_else(|| on_path("less").then(|| "less".to_string()));
    let Some(pager) = pager else {
        return super::print(text.as_bytes());
    };
    let mut command = Command::new("sh");
    command.arg("-c").arg(&pager).stdin(Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        // Quit if one screen, keep colours, do not clear the screen.
        command.env("LESS", "FRX");
    }
    let Ok(mut child) = command.spawn() else {
        return super::print(text.as_bytes());
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A pager that quits early (`q`) closes the pipe: not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    child.wait().map_err(|e| Error::Output {
        message: format!("the pager `{pager}` failed: {e}"),
    })?;
    Ok(())
}

/// Whether a program is on `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A spinner on standard error, with elapsed time and what runs, for work that takes longer
/// than a second; nothing when standard error is not a terminal.
pub struct Spinner {
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    /// Starts waiting; the spinner appears after a second.
    pub fn start(message: String) -> Spinner {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Spinner {
                done: None,
                thread: None,
            };
        }
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let wait = std::time::Duration::from_secs(1);
            if finished.recv_timeout(wait) != Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            let spinner = indicatif::ProgressBar::new_spinner();
            spinner.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .expect("a valid template"),
            );
            spinner.set_message(message);
            spinner.enable_steady_tick(std::time::Duration::from_millis(100));
            let _ = finished.recv();
            spinner.finish_and_clear();
        });
        Spinner {
            done: Some(done),
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    /// Stops and clears the spinner.
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
