#!/usr/bin/perl
# UMS lazy-pages guard (see LazyPagesGuard.java). Sits between the destination's `criu lazy-pages`
# daemon and the destination agent's relay, and outlives the agent: when the agent goes (its control
# pipe on stdin ends, or its relay connection ends) before it said "done", the restored tree is killed
# first and the daemon's connection closed only afterwards. A daemon that lost its page server would
# close the userfaultfds and the kernel would fill the missing pages with zeros under a running tree.
# usage: lazy-pages-guard.pl HOST AGENT_PORT ; prints "port N" once listening. It starts with the receive
# session, long before the restore, so that its start costs the migration's downtime nothing. Control lines
# on stdin: "pidfile PATH" (where the restore will write the restored root's pid; sent before the daemon
# starts, so before anything can be restored) and "done" (every page is in).
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Fcntl qw(:flock);
use Time::HiRes qw(sleep);

$SIG{PIPE} = 'IGNORE';
my ($host, $agent_port) = @ARGV;
my $pid_file;
my $listener = IO::Socket::INET->new(LocalAddr => $host, LocalPort => 0, Listen => 1, ReuseAddr => 1, Proto => 'tcp')
  or die "guard: cannot listen on $host: $!\n";
$| = 1;
print "port ", $listener->sockport, "\n";

my $done = 0;
my ($daemon, $agent);
my $select = IO::Select->new(\*STDIN, $listener);

sub note { print STDERR scalar(localtime), " guard: @_\n"; }

sub alive {
  my ($pid) = @_;
  open(my $stat, '<', "/proc/$pid/stat") or return 0;
  my $text = <$stat>;
  close $stat;
  return 0 unless defined $text && $text =~ /\)\s+(\S)/;
  return $1 ne 'Z' && $1 ne 'X';
}

# The restoring command holds RESTORED_PID_FILE.lock until it ended or its own tether killed it with what it
# restored (RestoreGuard.startRestorer): CRIU writes the pid file just before it resumes the tasks, so the
# file is read only once no restorer can write it any more (up to 120 s).
sub await_restorer {
  open(my $lock, '>>', "$pid_file.lock") or return;
  for (1 .. 12000) {
    return if flock($lock, LOCK_EX | LOCK_NB);
    sleep 0.01;
  }
  note("the restorer still holds its lock after 120 s");
}

sub fence_and_exit {
  my ($why) = @_;
  if (!defined $pid_file) {
    note("$why: no restore started");
    exit 3;
  }
  await_restorer();
  my $tree = 0;
  if (open(my $file, '<', $pid_file)) {
    my $line = <$file>;
    close $file;
    $tree = $1 if defined $line && $line =~ /(\d+)/;
  }
  if ($tree > 0) {
    # the tree's root is the init of its own PID namespace: killing it ends every process in it
    kill 'KILL', $tree;
    for (1 .. 5000) {
      last unless alive($tree);
      sleep 0.002;
    }
    note("$why: killed restored tree $tree (" . (alive($tree) ? "still alive" : "gone") . ")");
  } else {
    note("$why: no restored tree yet");
  }
  note("closing the daemon's connection");
  exit 3;
}

sub write_all {
  my ($to, $data) = @_;
  my $offset = 0;
  while ($offset < length $data) {
    my $written = syswrite($to, $data, length($data) - $offset, $offset);
    return 0 unless defined $written;
    $offset += $written;
  }
  return 1;
}

my $buffer;
my $control = '';
while (1) {
  for my $ready ($select->can_read()) {
    if ($ready == $listener) {
      $daemon = $listener->accept() or next;
      $agent = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $agent_port, Proto => 'tcp')
        or fence_and_exit("cannot reach the agent's relay: $!");
      setsockopt($_, IPPROTO_TCP, TCP_NODELAY, 1) for ($daemon, $agent);
      $select->remove($listener);
      $select->add($daemon, $agent);
    } elsif ($ready == \*STDIN || (fileno($ready) // -1) == 0) {
      # sysread, not <STDIN>: a buffered read could take two lines at once, and select would not wake
      # for the second one, left in perl's buffer
      my $read = sysread(STDIN, my $chunk, 4096);
      if (!$read) {
        fence_and_exit("the agent went away") unless $done;
        $select->remove(\*STDIN);
        next;
      }
      $control .= $chunk;
      while ($control =~ s/^([^\n]*)\n//) {
        my $line = $1;
        if ($line =~ /^pidfile (.+)$/) {
          $pid_file = $1;
        } elsif ($line =~ /^done/) {
          $done = 1;
        }
      }
    } elsif (defined $daemon && $ready == $daemon) {
      my $read = sysread($daemon, $buffer, 1 << 20);
      if (!$read) {
        note("the daemon closed its connection" . ($done ? "" : " before the last page"));
        shutdown($agent, 1);
        exit 0;
      }
      write_all($agent, $buffer) or fence_and_exit("the agent's relay failed: $!");
    } elsif (defined $agent && $ready == $agent) {
      my $read = sysread($agent, $buffer, 1 << 20);
      if (!$read) {
        fence_and_exit("the agent's relay ended") unless $done;
        $select->remove($agent);
        next;
      }
      write_all($daemon, $buffer) or fence_and_exit("the daemon's connection failed: $!");
    }
  }
}
