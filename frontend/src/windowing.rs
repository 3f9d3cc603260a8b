//! Arithmetic of the windowed (virtual) list: which rows to put in the DOM
//! for a scroll position, when to fetch the next page, and how to scroll a
//! row into view. Kept pure so it is tested without a browser layout.

use std::ops::Range;

/// Rows rendered above and below the visible ones, so fast scrolling does
/// not show blank space before the next frame.
pub const OVERSCAN: usize = 8;

/// How close (in rows) the visible window may get to the end of what is
/// loaded before the next page is requested.
pub const PREFETCH_ROWS: usize = 200;

/// The rows to render for a viewport of `viewport_px` scrolled to
/// `scroll_top_px`, with rows `row_px` high, `total` rows loaded.
pub fn visible_range(
    scroll_top_px: f64,
    viewport_px: f64,
    row_px: f64,
    total: usize,
    overscan: usize,
) -> Range<usize> {
    if total == 0 || row_px <= 0.0 {
        return 0..0;
    }
    let top = scroll_top_px.max(0.0);
    let first_visible = (top / row_px).floor() as usize;
    let visible_count = (viewport_px.max(0.0) / row_px).ceil() as usize + 1;
    let start = first_visible.saturating_sub(overscan).min(total);
    let end = first_visible
        .saturating_add(visible_count)
        .saturating_add(overscan)
        .min(total);
    start..end.max(start)
}

/// Whether the next page should be fetched: more exists and the rendered
/// window ends within `prefetch` rows of the loaded end.
pub fn needs_more(rendered_end: usize, loaded: usize, has_more: bool, prefetch: usize) -> bool {
    has_more && rendered_end.saturating_add(prefetch) >= loaded
}

/// The new `scrollTop` that brings row `index` fully into view, or `None`
/// when it already is.
pub fn reveal(index: usize, scroll_top_px: f64, viewport_px: f64, row_px: f64) -> Option<f64> {
    let row_top = index as f64 * row_px;
    let row_bottom = row_top + row_px;
    if row_top < scroll_top_px {
        Some(row_top)
    } else if row_bottom > scroll_top_px + viewport_px {
        Some((row_bottom - viewport_px).max(0.0))
    } else {
        None
    }
}

/// The `scrollTop` that puts row `index` in the middle of the viewport
/// (never above the top): for a row brought into view from far away, such
/// as a deep link's, so the rows around it show too.
pub fn center(index: usize, viewport_px: f64, row_px: f64) -> f64 {
    (index as f64 * row_px + row_px / 2.0 - viewport_px.max(0.0) / 2.0).max(0.0)
}

/// The cursor after pressing a vertical movement key, clamped to the list.
pub fn move_cursor(cursor: Option<usize>, delta: isize, total: usize) -> Option<usize> {
    if total == 0 {
        return None;
    }
    let next = match cursor {
        None if delta >= 0 => 0,
        None => total - 1,
        Some(at) => at.saturating_add_signed(delta).min(total - 1),
    };
    Some(next)
}

#[cfg(test)]
mod tests {
    use crate::unit_test;

    use super::*;

    #[unit_test]
    fn empty_list_renders_nothing() {
        assert_eq!(visible_range(0.0, 500.0, 36.0, 0, OVERSCAN), 0..0);
    }

    #[unit_test]
    fn top_of_a_long_list() {
        // 360 px shows 10 rows (+1 for a partial row), plus overscan below.
        assert_eq!(visible_range(0.0, 360.0, 36.0, 100_000, 8), 0..19);
    }

    #[unit_test]
    fn middle_of_a_long_list_is_small() {
        let range = visible_range(36.0 * 50_000.0, 360.0, 36.0, 100_000, 8);
        assert_eq!(range, 49_992..50_019);
        assert!(range.len() < 30);
    }

    #[unit_test]
    fn past_the_end_is_clamped() {
        assert_eq!(visible_range(1e9, 360.0, 36.0, 50, 8), 50..50);
        assert_eq!(visible_range(36.0 * 45.0, 360.0, 36.0, 50, 8), 37..50);
        assert_eq!(visible_range(-100.0, 72.0, 36.0, 50, 0), 0..3);
    }

    #[unit_test]
    fn prefetch_near_the_end_only() {
        assert!(needs_more(900, 1000, true, 200));
        assert!(!needs_more(700, 1000, true, 200));
        assert!(!needs_more(1000, 1000, false, 200));
    }

    #[unit_test]
    fn reveal_scrolls_minimally() {
        assert_eq!(reveal(5, 0.0, 360.0, 36.0), None);
        assert_eq!(reveal(0, 72.0, 360.0, 36.0), Some(0.0));
        assert_eq!(reveal(10, 0.0, 360.0, 36.0), Some(36.0));
    }

    #[unit_test]
    fn center_puts_a_far_row_mid_screen() {
        // Row 1,500 of 36 px rows in a 360 px viewport: its middle at 180 px.
        assert_eq!(center(1_500, 360.0, 36.0), 1_500.0 * 36.0 + 18.0 - 180.0);
        let top = center(1_500, 360.0, 36.0);
        assert_eq!(reveal(1_500, top, 360.0, 36.0), None, "then it is in view");
        assert_eq!(center(2, 360.0, 36.0), 0.0, "near the top: the top");
    }

    #[unit_test]
    fn cursor_moves_and_clamps() {
        assert_eq!(move_cursor(None, 1, 3), Some(0));
        assert_eq!(move_cursor(None, -1, 3), Some(2));
        assert_eq!(move_cursor(Some(2), 1, 3), Some(2));
        assert_eq!(move_cursor(Some(0), -1, 3), Some(0));
        assert_eq!(move_cursor(Some(1), 1, 0), None);
    }
}
