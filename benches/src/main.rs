//! The comparison suite against tokio, async-executor, async-global-executor and smolscale 0.4
//! is being written; this placeholder keeps the workspace whole until it lands.

fn main() {
    eprintln!("the comparison suite has not landed yet");
}
