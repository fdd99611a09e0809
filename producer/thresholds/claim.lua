-- KEYS[1]: the project's hash. ARGV: allocatedHours, usedPercent, nowMs,
-- leaseDeadlineMs, threshold...
-- Fields: alloc; epoch (bumped when alloc changes); s:<t> = "fired" or a
-- claim deadline in ms; a:<t> = times <t> was re-armed by removal.
-- Returns a flat list: threshold, "<epoch>.<arm>" for each claim made.
local h = KEYS[1]
local alloc = redis.call('HGET', h, 'alloc')
local fields = redis.call('HKEYS', h)
if alloc ~= ARGV[1] then
  for _, f in ipairs(fields) do
    if string.sub(f, 1, 2) == 's:' then redis.call('HDEL', h, f) end
  end
  if alloc then redis.call('HINCRBY', h, 'epoch', 1) end
  redis.call('HSET', h, 'alloc', ARGV[1])
  fields = {}
end
local configured = {}
for i = 5, #ARGV do configured[ARGV[i]] = true end
-- A threshold removed from the list re-arms.
for _, f in ipairs(fields) do
  if string.sub(f, 1, 2) == 's:' then
    local t = string.sub(f, 3)
    if not configured[t] then
      redis.call('HDEL', h, f)
      redis.call('HINCRBY', h, 'a:' .. t, 1)
    end
  end
end
local used = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local epoch = redis.call('HGET', h, 'epoch') or '0'
local out = {}
for i = 5, #ARGV do
  local t = ARGV[i]
  if used >= tonumber(t) then
    local st = redis.call('HGET', h, 's:' .. t)
    if not st or (st ~= 'fired' and tonumber(st) < now) then
      redis.call('HSET', h, 's:' .. t, ARGV[4])
      table.insert(out, t)
      table.insert(out, epoch .. '.' .. (redis.call('HGET', h, 'a:' .. t) or '0'))
    end
  end
end
return out
