"""The sidebar's search box, and the results that replace the chat list while it has words."""

import reflex as rx

from ..state.search import SearchResult, SearchState, Segment


def _segment(segment: Segment) -> rx.Component:
    return rx.cond(segment.hit, rx.el.mark(segment.text), rx.fragment(segment.text))


def _result(result: SearchResult) -> rx.Component:
    return rx.link(
        rx.el.div(rx.foreach(result.title, _segment), class_name="search-title"),
        rx.cond(
            result.snippet.length() > 0,
            rx.el.div(rx.foreach(result.snippet, _segment), class_name="search-snippet"),
        ),
        href=result.href,
        class_name="search-result",
        custom_attrs={"data-testid": "search-result"},
    )


def search_box() -> rx.Component:
    return rx.el.div(
        rx.icon("search", size=14, class_name="search-icon"),
        rx.input(
            value=SearchState.query,
            on_change=SearchState.set_query.debounce(250),
            placeholder="Search chats",
            aria_label="Search chats",
            type="search",
            size="2",
            max_length=200,
            width="100%",
            custom_attrs={"data-testid": "search-input"},
        ),
        rx.cond(
            SearchState.query != "",
            rx.icon_button(
                rx.icon("x", size=14),
                variant="ghost",
                color_scheme="gray",
                size="1",
                on_click=SearchState.clear,
                aria_label="Clear search",
                title="Clear search (Esc)",
                class_name="search-clear",
                custom_attrs={"data-testid": "search-clear"},
            ),
        ),
        class_name="search-box",
    )


def search_results() -> rx.Component:
    return rx.el.div(
        rx.foreach(SearchState.results, _result),
        rx.cond(
            SearchState.results.length() == 0,
            rx.text(
                "No chats match “",
                SearchState.query,
                "”.",
                size="2",
                color_scheme="gray",
                class_name="search-empty",
                custom_attrs={"data-testid": "search-empty"},
            ),
        ),
        class_name="chat-list",
    )
