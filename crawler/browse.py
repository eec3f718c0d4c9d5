"""``newswatch browse``: Datasette over the live database, read-only, with Newswatch's metadata.

The database is opened as a normal (mutable) file, never in immutable mode: the daemon keeps writing
and Datasette must see new articles and must not trust a cached row count. Datasette's reads go
through ``mode=ro`` connections, no write plugin is loaded and no canned query writes, so nothing a
visitor does can change the archive. It listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

from pathlib import Path

LATEST_MATCHES_PER_WATCH = """
SELECT "Watch", "Matched", "Title", "Outlet", "Country", "Keyword", "Found as", "Sentence", "Link"
FROM (SELECT *, row_number() OVER (PARTITION BY "Watch" ORDER BY "Matched" DESC, id DESC) AS n FROM match_list)
WHERE n <= 20 AND (:watch = '' OR "Watch" = :watch)
ORDER BY "Watch", "Matched" DESC
""".strip()

# Written against sightings (every outlet that ran an article). When story clusters land (issue 5),
# this becomes a query over the stories table.
STORIES_WITH_OUTLETS = """
SELECT a.title AS "Title", count(DISTINCT si.source_id) AS "Outlets",
       group_concat(DISTINCT coalesce(s.name, si.source_id)) AS "Outlet names",
       min(si.seen_at) AS "First seen", max(si.seen_at) AS "Last seen", a.url AS "Link", a.id AS article_id
FROM sightings si JOIN articles a ON a.id = si.article_id LEFT JOIN sources s ON s.id = si.source_id
WHERE si.seen_at >= :since
GROUP BY a.id
ORDER BY "Outlets" DESC, "Last seen" DESC
LIMIT 200
""".strip()

FAILING_SOURCES = """
SELECT s.id AS "Source", s.name AS "Outlet", s.country AS "Country", f.url AS "Feed",
       f.last_error_kind AS "Error kind", f.last_error AS "Error", f.consecutive_errors AS "Errors in a row",
       f.last_success_at AS "Last success", f.next_check_at AS "Next check"
FROM feeds f JOIN sources s ON s.id = f.source_id
WHERE s.enabled = 1 AND f.consecutive_errors > 0
ORDER BY f.consecutive_errors DESC, s.id
""".strip()


def metadata(db: str) -> dict:
    """Datasette metadata: titles, readable column descriptions, facets, search, canned queries."""
    return {
        "title": "Newswatch archive",
        "description": "Articles from the watched outlets, their matches and the state of every source. "
                       "Read-only. Search uses SQLite full-text search: words, \"a phrase\", prefix*.",
        "databases": {db: {
            "tables": {
                "article_list": {
                    "title": "Articles",
                    "description": "Every stored article with its outlet, country, language and the watches "
                                   "it matched. Search covers titles and text.",
                    "fts_table": "articles_fts", "fts_pk": "id", "searchmode": "escaped",
                    "sort_desc": "Stored", "size": 50,
                    "facets": ["Outlet", "Country", "Language", {"array": "Watches"}],
                    "columns": {"Published": "Publication time given by the outlet (UTC)",
                                "Stored": "When Newswatch stored it (UTC)",
                                "Text": "full text, feed summary (page unusable) or pruned",
                                "Watches": "Watches whose keywords it matched"},
                },
                "match_list": {
                    "title": "Matches",
                    "description": "Each keyword of a watch found in an article, with the sentence around it.",
                    "sort_desc": "Matched", "size": 50,
                    "facets": ["Watch", "Outlet", "Country", "Language"],
                    "columns": {"Found as": "The form of the keyword found in the text",
                                "Sentence": "The sentence around it"},
                },
                "articles": {"label_column": "title", "description": "The raw articles table.",
                             "facets": ["source_id", "language"], "sort_desc": "fetched_at"},
                "matches": {"facets": ["watch_id"], "sort_desc": "matched_at"},
                "sources": {"label_column": "name", "facets": ["country", "enabled"]},
                "feeds": {"facets": ["source_id", "last_error_kind"]},
                "outbox": {"facets": ["state", "channel", "watch_id"], "sort_desc": "created_at"},
                "cycles": {"hidden": True},
                "daemon": {"hidden": True},
            },
            "queries": {
                "latest_matches": {
                    "title": "Latest matches per watch",
                    "description": "The 20 newest matches of each watch (leave watch empty for all).",
                    "sql": LATEST_MATCHES_PER_WATCH, "params": ["watch"],
                },
                "stories_with_outlets": {
                    "title": "Stories with their outlets",
                    "description": "Articles with every outlet that ran them, most widely carried first. "
                                   "since: an ISO date such as 2025-06-01.",
                    "sql": STORIES_WITH_OUTLETS, "params": ["since"],
                },
                "failing_sources": {
                    "title": "Failing sources",
                    "description": "Feeds whose last poll failed, worst first.",
                    "sql": FAILING_SOURCES,
                },
            },
        }},
    }


def serve(db_path: Path, host: str, port: int) -> None:
    """Run Datasette until interrupted."""
    import uvicorn
    from datasette.app import Datasette

    ds = Datasette([str(db_path)], metadata=metadata(Path(db_path).stem),
                   settings={"sql_time_limit_ms": 3000, "facet_time_limit_ms": 1000, "max_returned_rows": 1000,
                             "allow_download": False, "suggest_facets": False})
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
