# Bucardo 5.6.0 as Debian ships it, changed in three places for large
# batches (benches/replication_throughput.sh, benches/provision_big.sh).
# Run at image build as `perl -0pi archive-bucardo-patch.pl Bucardo.pm`; a
# change that does not find its line fails the build, so a new Bucardo
# cannot pass silently unpatched.
my %applied;

# 1. A batch of changed rows is read from the source with one
#    `COPY (... WHERE pk = ANY($1))`, Bucardo's own way for a batch within
#    statement_chunk_size, for every single-key table, instead of chunks of
#    `IN (?, ?, ...)` whose placeholders its driver parses in time growing
#    with the square of their count (200k-row insert 6.9 s -> 4.9 s).
$applied{'one ANY() batch'} =
  s|if \(\$numpks == 1 and \$total_rows <= \$chunksize\) \{|if (\$numpks == 1) { # archive: one ANY() batch|;

# 2. Rows are deleted from a target in key order, not hash order, so each
#    `DELETE ... WHERE pk = ANY(chunk)` touches neighbouring pages instead
#    of pages all over a table larger than shared_buffers (1M-row delete on
#    the lab 23.0 s -> 14.5 s). Keys that are not all integers sort as text.
$applied{'delete in key order'} =
  s|(DELETE FROM \$target_tablename WHERE \$pkcols = ANY\(\?\)";\n\s+)for my \$key \(keys %\$rows\) \{|${1}for my \$key (do { my \@k = keys %\$rows; (grep { !/\\A-?[0-9]{1,18}\\z/ } \@k) ? sort \@k : sort { \$a <=> \$b } \@k }) { # archive: keys in order|;

# 3. A full (one-time) copy fills the target's tables with their indexes
#    switched off and rebuilt after, as pg_restore does, whatever the sync's
#    rebuild_index says; ordinary sync runs keep their indexes live.
$applied{'full copy rebuilds indexes'} =
  s|(## Disable indexes as needed\n\s+)\$self->disable_indexes\(\$sync, \$d, \$g\);(\n\n\s+\$self->glog\(qq\{Emptying out)|${1}{ local \$g->{rebuild_index} = 1; \$self->disable_indexes(\$sync, \$d, \$g); } # archive: full copy rebuilds indexes$2|;

# 4. A batch of at least 50k rows and half a target table's size is copied
#    into that table with its indexes off and rebuilt after (Bucardo's own
#    rebuild_index mechanism, REINDEX at the end of the run), after the
#    delete, which needs them. Maintaining three indexes row by row was
#    most of a 1M-row update's apply (COPY 12.9 s live, 2.3 s + REINDEX
#    5.4 s off). The price: readers of that table on the slave wait during
#    the REINDEX, once per such batch.
$applied{'big batch rebuilds indexes'} =
  s|(\$dmlcount\{deletes\} \+= \$self->delete_rows\(\n\s+\$deltabin\{\$dbname1\}, \$g, \$sync, \\\@pushdbs\);\n)|$1
                                for my \$d (\@pushdbs) { # archive: big batch rebuilds indexes
                                    next if \$d->{dbtype} ne 'postgres' or \$rows < 50000;
                                    my \$tn = \$g->{newname}{\$syncname}{\$d->{name}};
                                    my \$size = \$d->{dbh}->selectall_arrayref(qq{SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = '\$tn'::regclass})->[0][0];
                                    next if \$rows * 2 < \$size;
                                    local \$g->{rebuild_index} = 1;
                                    \$self->disable_indexes(\$sync, \$d, \$g);
                                }
|;

# 5. A kick that finds the sync's kid gone makes a new kid at once. Bucardo
#    only signalled the old pid and left the respawn to its health check,
#    every ctl_checkonkids_time (10 s). A one-time copy's kid always ends
#    itself after the copy, so a new slave's first write after its copy
#    waited up to 10 s (5.8 s measured). Kids are reaped (SIGCHLD ignored),
#    so `kill 0` fails once one is gone; a kid just made is alive.
$applied{'kick makes a gone kid anew'} =
  s|(\n\s+)if \(\$self->\{kidpid\}\) \{(\n\s+## Tell any listening kids to go ahead and start)|$1if (\$self->{kidpid} and kill 0 => \$self->{kidpid}) { # archive: a gone kid is made anew$2|;

my @missing = grep { $applied{$_} != 1 } sort keys %applied;
die "archive-bucardo-patch: not applied (Bucardo.pm changed?): @missing\n" if @missing;
