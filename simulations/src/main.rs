//! `heartline-sim`: see [`heartline_sim::cli`].

fn main() -> anyhow::Result<()> {
    heartline_sim::cli::main()
}
