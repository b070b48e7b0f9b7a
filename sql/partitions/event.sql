-- pgaudit-kit: the partitions of pgaudit_kit.event (tables/event.sql): each keeps the guards and row-level security
-- of its parent (pgaudit_kit.protect_event_partition, which creates what is missing and alters nothing present),
-- and enough of them exist ahead of the identity (pgaudit_kit.add_event_partitions). On a fresh install this
-- creates the first partitions; after an upgrade, what the kit's installed width and count call for.
SELECT pgaudit_kit.protect_event_partition(p.partition) FROM pgaudit_kit.event_partitions() p;
SELECT pgaudit_kit.add_event_partitions();
