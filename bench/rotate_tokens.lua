-- wrk script: every request carries the next token of a token file, cycling.
--
-- run.sh writes a small wrapper per row that sets `token_file` and then runs
-- this file (dofile), so wrk is invoked as `wrk ... -s wrapper.lua URL`.
-- The file holds one JWT per line (bench/mint_tokens.py --count N). Requests
-- are formatted once in init, so the per-request work in wrk is an index step.
--
-- With N tokens larger than the proxy's verified-token cache, a cycling
-- order means every request carries a token the proxy has not seen in the
-- last N requests: the path of a token not seen before.

local requests = {}
local count = 0
local next_index = 0

-- setup runs once per wrk thread, in the main Lua state; thread_id is set in
-- that thread's own state.
local threads_set_up = 0
function setup(thread)
    thread:set("thread_id", threads_set_up)
    threads_set_up = threads_set_up + 1
end

function init(args)
    local path = token_file or args[1]
    assert(path, "rotate_tokens.lua: no token_file set and no script argument")
    for line in io.lines(path) do
        if line ~= "" then
            count = count + 1
            requests[count] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. line })
        end
    end
    assert(count > 0, "rotate_tokens.lua: no tokens in " .. path)
    -- Each wrk thread has its own Lua state; start the threads at different
    -- places so two threads do not send the same token at the same time.
    next_index = (thread_id or 0) * 7919 % count
end

function request()
    next_index = next_index % count + 1
    return requests[next_index]
end
