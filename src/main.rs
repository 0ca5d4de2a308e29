fn main() {
    let action = linxdot_exporter::config::parse(
        std::env::args_os().skip(1).collect(),
        &linxdot_exporter::config::process_env,
    );
    println!("{action:?}");
}
