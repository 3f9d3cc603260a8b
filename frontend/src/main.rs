//! Entry point of the browser app: installs the panic hook and mounts
//! [`etcdeck_frontend::app::App`]. Everything else lives in the library so
//! it can be tested.

fn main() {
    // A panic should say what happened in the console, not "unreachable".
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(etcdeck_frontend::app::App);
}
