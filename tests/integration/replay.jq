# Replay a zetl jsonl change log into the final rows of one table, keyed by
# its key columns: jq -n --arg t TABLE --argjson keys '["id"]' -f replay.jq LOG
# An update's unchanged cells keep the previous value, a key change removes
# the old key, truncate and drop empty the table, a rename moves the column.
def k($o): [$keys[] as $c | $o[$c] | tostring] | join("|");
reduce (inputs | select((.type == "change" or .type == "truncate" or .type == "drop" or .type == "schema") and .table[2] == $t)) as $l ({};
  if $l.type == "truncate" or $l.type == "drop" then {}
  elif $l.type == "schema" then
    reduce (($l.changes // [])[] | select(.kind == "rename")) as $r (.;
      map_values(with_entries(if .key == $r.old_column then .key = $r.column else . end)))
  else
    (if $l.old_key then del(.[k($l.old_key)]) else . end)
    | if $l.op == "delete" then del(.[k($l.row)])
      else .[k($l.row)] = ((.[k($l.row)] // {})
           + ($l.row | with_entries(select(.key as $c | (($l.unchanged // []) | index($c)) | not))))
      end
  end)
