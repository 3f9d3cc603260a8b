//! A browser's `User-Agent` as people read it in the sessions list
//! ("Chrome 120 on Linux"), and the bound on the raw string a session keeps.
//!
//! Pure and forgiving: an agent it does not recognise is shown by its first
//! word, and an empty one as "unknown browser". It only helps a person tell
//! their sessions apart; nothing decides anything from it.

/// Most characters of a `User-Agent` a session keeps.
pub const MAX_USER_AGENT_CHARS: usize = 200;

/// `raw` cut to [`MAX_USER_AGENT_CHARS`] characters, control characters
/// left out (it is shown and logged).
pub fn bounded(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect()
}

/// The browser and operating system named by a `User-Agent`, in a few words.
pub fn short(agent: &str) -> String {
    let agent = agent.trim();
    if agent.is_empty() {
        return "unknown browser".into();
    }
    let browser = browser(agent);
    match os(agent) {
        Some(os) => format!("{browser} on {os}"),
        None => browser,
    }
}

/// The product, most specific first: Edge and Opera also say Chrome, and
/// Chrome also says Safari.
fn browser(agent: &str) -> String {
    const PRODUCTS: [(&str, &str); 9] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("curl/", "curl"),
        ("Wget/", "Wget"),
    ];
    for (marker, name) in PRODUCTS {
        if let Some(version) = version_after(agent, marker) {
            return format!("{name} {version}");
        }
    }
    if agent.contains("Safari/")
        && let Some(version) = version_after(agent, "Version/")
    {
        return format!("Safari {version}");
    }
    // Scripts and tools: their first word without its version.
    let first = agent.split_whitespace().next().unwrap_or(agent);
    let name = first.split('/').next().unwrap_or(first);
    let version = first.split('/').nth(1).map(major);
    match version {
        Some(v) if !v.is_empty() => format!("{name} {v}"),
        _ => name.to_owned(),
    }
}

/// The major version after `marker`, when the agent names it.
fn version_after(agent: &str, marker: &str) -> Option<String> {
    let rest = &agent[agent.find(marker)? + marker.len()..];
    let version = major(rest);
    (!version.is_empty()).then_some(version)
}

fn major(version: &str) -> String {
    version.chars().take_while(char::is_ascii_digit).collect()
}

fn os(agent: &str) -> Option<&'static str> {
    const SYSTEMS: [(&str, &str); 9] = [
        ("Windows", "Windows"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Android", "Android"),
        ("Linux", "Linux"),
        ("FreeBSD", "FreeBSD"),
    ];
    SYSTEMS
        .iter()
        .find(|(marker, _)| agent.contains(marker))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers_in_a_few_words() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.224 Safari/537.36",
                "Chrome 120 on Linux",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.224 Safari/537.36",
                "Headless Chrome 120 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 Edg/121.0.2277.83",
                "Edge 121 on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:122.0) Gecko/20100101 Firefox/122.0",
                "Firefox 122 on macOS",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
                "Safari 17 on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
                "Safari 17 on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
                "Chrome 120 on Android",
            ),
            ("curl/8.5.0", "curl 8"),
            ("python-requests/2.31.0", "python-requests 2"),
            ("", "unknown browser"),
            ("   ", "unknown browser"),
            ("something", "something"),
        ];
        for (agent, shown) in cases {
            assert_eq!(short(agent), shown, "{agent}");
        }
    }

    #[test]
    fn the_raw_agent_is_bounded_and_printable() {
        let long = "x".repeat(1_000);
        assert_eq!(bounded(&long).chars().count(), MAX_USER_AGENT_CHARS);
        assert_eq!(bounded("a\nb\u{7}c"), "abc");
        let wide = "é".repeat(300);
        assert_eq!(bounded(&wide).chars().count(), MAX_USER_AGENT_CHARS);
    }
}
