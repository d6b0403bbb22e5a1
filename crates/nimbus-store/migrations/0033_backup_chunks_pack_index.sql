-- No query looks backup chunks up by pack (a sweep reads the project's whole index), and
-- every chunk a backup stores paid for this index's upkeep.
DROP INDEX backup_chunks_pack;
