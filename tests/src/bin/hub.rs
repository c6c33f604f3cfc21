//! The real `heartline-hub` command line, built inside this crate so that its tests and benchmarks
//! can run it as a separate process (for SIGKILL and per-process CPU figures).

fn main() -> std::process::ExitCode {
    heartline_hub::cli::main()
}
