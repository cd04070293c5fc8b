-- Applies one WriteBatch atomically: every precondition and claim is checked first; only if all
-- hold are the mutations applied, so a refused batch writes nothing.
--
-- ARGV layout (built by scripts.rs; key names are computed on the Rust side):
--   [1] change channel
--   [2] number of preconditions P, then P triples: kind ('A'bsent|'E'xists|'V'ersion), record key, version
--   then number of mutations M, then M sextuples: kind, key, a, b, c, d
--     P  record key, space index key, id, value, change payload
--     D  record key, space index key, id, -, change payload
--     C  unique key, term, owner        R  unique key, term, owner
--     SA set key, member                SR set key, member            SC set key
--     Q  log stream key, log head key, value, index, log name   (index: '' or the entry-keys
--        hash, the keys' seq sets' common start, then each key, one per line)
--     QT log stream key, lowest seq kept, entry-keys hash, the seq sets' common start
-- Returns {'ok', n1, n2, ...} (in mutation order: the version of each put and the seq of each
-- append), {'conflict', p} or {'unique', m, owner}.
-- A record is a string `<version>:<value>`; a store written before that holds hashes
-- {v, d} until the start-up conversion reaches them, so both are read.
local function version_of(key)
  local r = redis.pcall('GET', key)
  if type(r) == 'table' and r.err then return redis.call('HGET', key, 'v') end
  return r and string.match(r, '^(%d+):') or false
end

local function lines(s)
  local t = {}
  for l in string.gmatch(s, '[^\n]+') do t[#t + 1] = l end
  return t
end

local channel = ARGV[1]
local npre = tonumber(ARGV[2])
local i = 3
for p = 1, npre do
  local kind, key, ver = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local cur = version_of(key)
  if kind == 'A' then
    if cur then return {'conflict', p} end
  elseif kind == 'E' then
    if not cur then return {'conflict', p} end
  elseif cur ~= ver then
    return {'conflict', p}
  end
end

local nmut = tonumber(ARGV[i])
local base = i + 1

-- Claims and releases are replayed on an overlay, so a release followed by a claim of the same
-- term in one batch behaves as if applied in order, without touching Redis yet.
local overlay = {}
for m = 1, nmut do
  local j = base + (m - 1) * 6
  local kind = ARGV[j]
  if kind == 'C' or kind == 'R' then
    local key, term, owner = ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]
    overlay[key] = overlay[key] or {}
    local held = overlay[key][term]
    if held == nil then held = redis.call('HGET', key, term) end
    if kind == 'C' then
      if held and held ~= owner then return {'unique', m, held} end
      overlay[key][term] = owner
    elseif held == owner then
      overlay[key][term] = false
    end
  end
end

local out = {'ok'}
-- The last seq appended to each log (by name), published once when the batch is applied.
local heads, logs = {}, {}
for m = 1, nmut do
  local j = base + (m - 1) * 6
  local kind, key, a, b, c, d = ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3], ARGV[j + 4], ARGV[j + 5]
  if kind == 'P' then
    local v = (tonumber(version_of(key)) or 0) + 1
    redis.call('SET', key, string.format('%d:', v) .. c)
    redis.call('ZADD', a, 0, b)
    redis.call('PUBLISH', channel, d)
    out[#out + 1] = v
  elseif kind == 'D' then
    if redis.call('DEL', key) == 1 then
      redis.call('ZREM', a, b)
      redis.call('PUBLISH', channel, d)
    end
  elseif kind == 'C' then
    redis.call('HSET', key, a, b)
  elseif kind == 'R' then
    if redis.call('HGET', key, a) == b then redis.call('HDEL', key, a) end
  elseif kind == 'SA' then
    redis.call('ZADD', key, 0, a)
  elseif kind == 'SR' then
    redis.call('ZREM', key, a)
  elseif kind == 'SC' then
    redis.call('DEL', key)
  elseif kind == 'Q' then
    local seq = redis.call('INCR', a)
    local now = redis.call('TIME')
    local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
    redis.call('XADD', key, string.format('0-%d', seq), 'v', b, 't', string.format('%d', ms))
    if c ~= '' then
      local index = lines(c)
      local id = string.format('%d', seq)
      for k = 3, #index do redis.call('ZADD', index[2] .. index[k], id, id) end
      redis.call('HSET', index[1], id, table.concat(index, '\n', 3))
    end
    if heads[d] == nil then logs[#logs + 1] = d end
    heads[d] = seq
    out[#out + 1] = seq
  elseif kind == 'QT' then
    -- The trimmed entries leave their keys' sets first (cost: one step per entry trimmed).
    local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
    if first then
      for s = tonumber(string.match(first[1], '^0%-(%d+)$')), tonumber(a) - 1 do
        local id = string.format('%d', s)
        local held = redis.call('HGET', b, id)
        if held then
          for _, k in ipairs(lines(held)) do redis.call('ZREM', c .. k, id) end
          redis.call('HDEL', b, id)
        end
      end
    end
    redis.call('XTRIM', key, 'MINID', '0-' .. a)
  end
end
for _, log in ipairs(logs) do
  redis.call('PUBLISH', channel, string.format('q%d:%s', heads[log], log))
end
return out
