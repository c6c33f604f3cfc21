//! `heartline-hub`: hands the command line over to the library.

fn main() -> std::process::ExitCode {
    heartline_hub::cli::main()
}
