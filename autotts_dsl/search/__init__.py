"""Discovery: a proposer writes tts-dsl programs or edits, the checker gates
them, the replay evaluates the survivors, the history remembers everything.

Modules, one job each:

* `config` — the settings of a search (stored with it);
* `history` — the SQLite record under OUT/ (transactional; resumable);
* `evaluate` — cells on the sweep runner; `heldout` — the final pick on
  held-out stores (the only module that touches them);
* `objective`, `archive` — scores on the search stores, Pareto archive,
  parent selection;
* `view`, `traces`, `prompt` — the prompt, built from search results only;
* `edits`, `verify` — reading a reply (full program or SEARCH/REPLACE) and
  the check gate;
* `backends`, `pricing`, `llm` — LLM calls (OpenAI-compatible, Anthropic,
  command), $ and the budget cap, the propose→check→repair conversation;
* `mutate`, `gates`, `astops`, `offline` — the offline proposer;
* `loop` — the rounds; `report` — what `search report` shows.
"""

from __future__ import annotations
