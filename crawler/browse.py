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

# A story is a near-duplicate cluster (crawler/neardup.py); its outlets are every sighting of every
# article in it, the first-seen one first.
STORIES_WITH_OUTLETS = """
SELECT first.title AS "Title", st.size AS "Copies",
       (SELECT count(DISTINCT si.source_id) FROM sightings si JOIN articles a ON a.id = si.article_id
        WHERE a.story_id = st.id) AS "Outlets",
       coalesce(fs.name, st.first_source_id) AS "First outlet",
       (SELECT group_concat(name, ', ') FROM (
            SELECT DISTINCT coalesce(s.name, si.source_id) AS name FROM sightings si
            JOIN articles a ON a.id = si.article_id LEFT JOIN sources s ON s.id = si.source_id
            WHERE a.story_id = st.id ORDER BY si.seen_at)) AS "Outlet names",
       st.first_seen_at AS "First seen", st.last_seen_at AS "Last seen", first.url AS "Link",
       st.id AS story_id
FROM stories st JOIN articles first ON first.id = st.first_article_id
LEFT JOIN sources fs ON fs.id = st.first_source_id
WHERE st.last_seen_at >= :since
ORDER BY "Outlets" DESC, st.last_seen_at DESC
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
                # the normalised search index holds stems, not text: `newswatch search` reads it
                "search_fts": {"hidden": True},
                "search_docs": {"hidden": True},
            },
            "queries": {
                "latest_matches": {
                    "title": "Latest matches per watch",
                    "description": "The 20 newest matches of each watch (leave watch empty for all).",
                    "sql": LATEST_MATCHES_PER_WATCH, "params": ["watch"],
                },
                "stories_with_outlets": {
                    "title": "Stories with their outlets",
                    "description": "Stories (an article and its copies, near-duplicates included) with every "
                                   "outlet that ran them, the first one first; most widely carried first. "
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
