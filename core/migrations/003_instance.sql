-- Which Vigil deployment this store belongs to. Everything a deployment keeps in Redis
-- (locks, the audit chain's head, control versions and their pub/sub channel) is named
-- after this id, so two deployments that share a Redis never see each other's state.
-- Every process of one deployment shares the store, hence the id. Written once; should two
-- processes write at the same moment, all of them settle on the smallest (instance.ts).
CREATE TABLE IF NOT EXISTS vigil_instance (
  id String,
  created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY id;
