# The README as users read it: its tables render (GitHub-flavoured
# Markdown ends a table at a blank line, and a row with a different number
# of cells breaks it), every apikit.* setting and every SQL function is
# documented in README.md or docs/, and it speaks to users, not of the
# project's issues or of notes they do not have.  No server needed.
use strict;
use warnings;
use Test::More;

my $top = '.';
sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; local $/; return <$fh>; }

my $readme = slurp("$top/README.md");
my $docs = $readme . join('', map { slurp($_) } glob("$top/docs/*.md"));

# --- tables ---------------------------------------------------------------
my @bad;
my ($in_code, $cells, $last_row) = (0, undef, -2);
my @lines = split /\n/, $readme, -1;
for my $n (0 .. $#lines)
{
	my $l = $lines[$n];
	if ($l =~ /^\s*```/) { $in_code = !$in_code; next; }
	next if $in_code;
	if ($l =~ /^\|/)
	{
		# Cells are split by every unescaped pipe, inside code spans too.
		my $count = () = $l =~ /(?<!\\)\|/g;
		if ($last_row == $n - 1) { push @bad, 'line ' . ($n + 1) . " has $count pipes, its table $cells"
			if $count != $cells; }
		elsif ($last_row == $n - 2 && $lines[$n - 1] =~ /^\s*$/)
		{ push @bad, 'line ' . ($n + 1) . ': a blank line splits a table'; }
		else { $cells = $count; }
		$last_row = $n;
	}
}
is(join("\n", @bad), '', 'every table in README.md renders');

# --- every setting and function documented ---------------------------------
my %settings;
for my $f (glob("$top/src/*.c"), glob("$top/src/*/*.c"))
{
	my $src = slurp($f);
	$settings{$1} = 1 while $src =~ /"(apikit\.[a-z_]+)"/g;
}
my %functions;
for my $f (glob("$top/src/sql/*.sql"))
{
	my $sql = slurp($f);
	$functions{"apikit.$1"} = 1
	  while $sql =~ /CREATE (?:OR REPLACE )?(?:FUNCTION|PROCEDURE) apikit\.([a-z_0-9]+)/gi;
}
cmp_ok(scalar(keys %settings), '>', 5, 'settings found in the sources');
cmp_ok(scalar(keys %functions), '>', 20, 'functions found in the install script');
my @undocumented = grep { index($docs, $_) < 0 } sort(keys %settings), sort(keys %functions);
is(join(', ', @undocumented), '', 'every setting and SQL function is documented');

# --- it speaks to users ------------------------------------------------------
my @talk = grep { /\bissues?\b/i || m{\.\./shared} } split /\n/, $readme;
is(join("\n", @talk), '', 'README.md speaks of no issues and links to nothing users lack');

done_testing();
