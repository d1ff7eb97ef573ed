//! The comparison suite's entry point: `cargo bench -p smolscale-bench --bench compare -- ...`.
//! Everything lives in the `smolscale_bench` library; see its documentation for what is
//! measured and how.

fn main() -> std::process::ExitCode {
    smolscale_bench::main()
}
