// Starts the app: imports the wasm-bindgen glue and instantiates the wasm
// that the page names. Trunk's own loader is an inline script, which the
// Content-Security-Policy (`script-src 'self'`) refuses to run; this file is
// the same loader served from this origin. Trunk.toml's `pattern_script`
// puts the `<meta name="etcdeck-app">` with the built file names in the page.
const app = document.querySelector('meta[name="etcdeck-app"]');
const { default: init } = await import(app.dataset.js);
await init({ module_or_path: app.dataset.wasm });
